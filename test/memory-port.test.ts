import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { expose, releaseProxy, wrap } from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatProvider } from '../src/app.js';
import { OfflineProvider } from '../src/llm/offline.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { DEFAULT_RETRY } from '../src/store/work-queue.js';
import { LocalEmbedder } from '../src/workers-host/embedder.js';
import { MemoryPort } from '../src/workers-host/memory-port.js';
import type { PortEvent } from '../src/workers-host/memory-port.js';
import { EMBEDDING_DIMENSIONS } from '../src/store/schema.js';
import { nodeEndpoint } from '../workers/shared/comlink-node.js';
import type { MemoryPortApi, WorkerName } from '../workers/shared/protocol.js';
import { tempDir } from './helpers/temp-dir.js';
import { seedChat } from './helpers/workers.js';

// The owner's side of the port, over a real MessageChannel with Comlink (as a worker reaches it), in one
// process: the write gate holds whatever the caller does, and errors cross as result objects.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openPort(worker: WorkerName, provider: ChatProvider = new OfflineProvider()) {
  const store = await MemoryStore.open(path.join(tempDir(), 'memory.db'));
  const gate = { open: true, inflight: 0, events: [] as PortEvent[] };
  const port = new MemoryPort({
    worker,
    store,
    provider: () => provider,
    embedder: new LocalEmbedder(EMBEDDING_DIMENSIONS),
    activeConversation: () => undefined,
    retry: DEFAULT_RETRY,
    gate: {
      writesAllowed: () => gate.open,
      writeStarted: () => gate.inflight++,
      writeEnded: () => gate.inflight--,
      counted: (event) => gate.events.push(event),
    },
  });
  const channel = new MessageChannel();
  expose(port.api(), nodeEndpoint(channel.port1));
  const remote = wrap<MemoryPortApi>(nodeEndpoint(channel.port2));
  cleanups.push(async () => {
    remote[releaseProxy]();
    channel.port1.close();
    channel.port2.close();
    await store.close();
  });
  return { store, gate, remote };
}

describe('the memory port', () => {
  it('refuses a write while the worker is asked to pause, and applies nothing', async () => {
    const { store, gate, remote } = await openPort('exchange-summarizer');
    await seedChat(store, 1, 1);
    const read = await remote.nextItems(10);
    if (read.status !== 'ok') throw new Error('read failed');
    const item = read.value[0]!;
    if (item.kind !== 'exchange' || !('asOfUs' in item)) throw new Error('expected an exchange');
    const result = {
      type: 'summary' as const,
      ref: { kind: item.kind, id: item.id },
      summary: 'S',
      model: 'm',
      asOfUs: item.asOfUs,
    };

    gate.open = false;
    expect(await remote.saveResult(result)).toEqual({ status: 'paused' });
    expect(await remote.recordFailure(result.ref, { message: 'x' })).toEqual({ status: 'paused' });
    expect(await store.all(`SELECT summary FROM exchanges`)).toEqual([{ summary: null }]);
    expect(await store.all(`SELECT count(*) AS n FROM failed_jobs`)).toEqual([{ n: 0 }]);
    expect(gate.events.map((e) => e.type)).toEqual(['refused', 'refused']);

    gate.open = true;
    expect(await remote.saveResult(result)).toEqual({ status: 'written' });
    expect(gate.inflight).toBe(0);
    expect(await store.all(`SELECT summary, summary_model FROM exchanges`)).toEqual([
      { summary: 'S', summary_model: 'm' },
    ]);
    // The same result again: the exchange has its summary now, so nothing is overwritten.
    expect(await remote.saveResult({ ...result, summary: 'other' })).toEqual({ status: 'stale' });
  });

  it('keeps a failure code and hint across the thread boundary as a result object', async () => {
    const failing: ChatProvider = {
      name: 'openai',
      description: 'a failing model',
      available: true,
      complete: async () => {
        throw Object.assign(new Error('the model server answered HTTP 500'), { code: 'LLM_HTTP_STATUS', hint: 'Look' });
      },
    };
    const { remote } = await openPort('conversation-summarizer', failing);
    expect(await remote.chat([{ role: 'user', content: 'hi' }])).toEqual({
      status: 'failed',
      error: { message: 'the model server answered HTTP 500', code: 'LLM_HTTP_STATUS', hint: 'Look' },
    });
  });

  it('answers `unavailable` offline and `local` without an embeddings endpoint', async () => {
    const { remote } = await openPort('embeddings');
    expect(await remote.chat([{ role: 'user', content: 'hi' }])).toEqual({ status: 'unavailable' });
    expect(await remote.embed(['a'])).toEqual({
      status: 'local',
      model: `local-hash-ngram-v1-${EMBEDDING_DIMENSIONS}`,
    });
  });

  it('refuses a result of the wrong kind for its worker', async () => {
    const { remote } = await openPort('embeddings');
    const reply = await remote.saveResult({
      type: 'summary',
      ref: { kind: 'exchange', id: 1 },
      summary: 's',
      model: 'm',
      asOfUs: 0,
    });
    expect(reply).toMatchObject({ status: 'failed', error: { message: /embeddings cannot write a summary/ } });
  });
});
