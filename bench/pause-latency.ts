import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { ChatMessage, ChatProvider, ChatReply } from '../src/app.js';
import { OfflineProvider } from '../src/llm/offline.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { WorkerManager } from '../src/workers-host/worker-manager.js';

// How long a backup waits for the background workers: the time from pauseAll() to every worker acknowledged
// (waitUntilAllPaused resolved), measured while all three are busy, over many pauses. Two kinds of work:
// `offline` (local extractive summaries: CPU in the worker, a write per item) and `model` (every summary waits
// for a simulated model call, so pauses land while calls are in flight). Target: p99 under 50 ms.
//
//   node dist/bench/pause-latency.js [--pauses 100] [--model-ms 20] [--run-ms 20]

export interface PauseLatencyOptions {
  /** Pause/resume cycles per kind of work (at least 100 for a p99). */
  pauses?: number;
  /** How long the workers run between two pauses. */
  runMs?: number;
  /** Latency of the simulated model in the `model` kind. */
  modelLatencyMs?: number;
  kinds?: ('offline' | 'model')[];
  /** Scratch directory (default: a new one under the OS temp dir, removed afterwards). */
  dir?: string;
  log?: (line: string) => void;
}

export interface PauseLatencyFigures {
  kind: 'offline' | 'model';
  pauses: number;
  /** Pauses requested while all three workers were busy (the others had one idle or parked). */
  allBusy: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** resumeAll() including its health pings. */
  resumeP50Ms: number;
  resumeP99Ms: number;
  /** Results written by the workers during the run (they really were working). */
  written: number;
}

export async function benchPauseLatency(options: PauseLatencyOptions = {}): Promise<PauseLatencyFigures[]> {
  const kinds = options.kinds ?? ['offline', 'model'];
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-pause-bench-'));
  const figures: PauseLatencyFigures[] = [];
  try {
    for (const kind of kinds) figures.push(await measure(kind, dir, options));
  } finally {
    if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

async function measure(
  kind: 'offline' | 'model',
  dir: string,
  options: PauseLatencyOptions,
): Promise<PauseLatencyFigures> {
  const pauses = Math.max(1, options.pauses ?? 100);
  const runMs = options.runMs ?? 20;
  const log = options.log ?? (() => {});
  const store = await MemoryStore.open(path.join(dir, `pause-${kind}.db`));
  await seedWork(store, kind === 'model' ? 3_000 : 6_000);
  const provider: ChatProvider = kind === 'model' ? new SlowModel(options.modelLatencyMs ?? 20) : new OfflineProvider();
  let written = 0;
  const manager = new WorkerManager({
    store,
    provider: () => provider,
    activeConversation: () => undefined,
    settings: { idlePollMs: 50 },
    onEvent: (event) => {
      if (event.type === 'written') written++;
    },
  });
  const pauseMs: number[] = [];
  const resumeMs: number[] = [];
  let allBusy = 0;
  try {
    manager.startAll();
    await untilAllBusy(manager, 30_000);
    for (let i = 0; i < pauses; i++) {
      if (await untilAllBusy(manager, 500)) allBusy++;
      const start = performance.now();
      await manager.pauseAll();
      await manager.waitUntilAllPaused(5_000);
      pauseMs.push(performance.now() - start);
      const resume = performance.now();
      await manager.resumeAll(5_000);
      resumeMs.push(performance.now() - resume);
      await new Promise((resolve) => setTimeout(resolve, runMs));
    }
  } finally {
    await manager.stopAll();
    await store.close();
  }
  const result = {
    kind,
    pauses,
    allBusy,
    p50Ms: percentile(pauseMs, 50),
    p99Ms: percentile(pauseMs, 99),
    maxMs: Math.max(...pauseMs),
    resumeP50Ms: percentile(resumeMs, 50),
    resumeP99Ms: percentile(resumeMs, 99),
    written,
  };
  log(
    `  ${kind}: pause p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, max ` +
      `${result.maxMs.toFixed(2)} ms over ${pauses} pauses (${allBusy} with all three busy); resume p50 ` +
      `${result.resumeP50Ms.toFixed(2)} ms, p99 ${result.resumeP99Ms.toFixed(2)} ms; ${written} results written`,
  );
  return result;
}

/** Closed conversations with completed exchanges, half of the exchanges already summarised (work to embed). */
async function seedWork(store: MemoryStore, conversations: number): Promise<void> {
  const words = `'backup ' || (i % 97) || ' memory file ' || (i % 13) || ' copy verify checkpoint duckdb worker'`;
  await store.run(
    `INSERT INTO conversations (id, title, status) SELECT i, 'conversation ' || i, 'closed' FROM range(1, $1 + 1) t(i)`,
    [conversations],
  );
  await store.run(
    `INSERT INTO exchanges (id, conversation_id, exchange_number, status, completed_at, user_message,
                            assistant_message, summary)
     SELECT i, 1 + (i % $1), 1 + i // $1, 'completed', now(),
            'How do I keep my ' || ${words} || '? Please explain the steps.',
            'First close the writers. Then ' || ${words} || '. Finally check the copy opens.',
            CASE WHEN i % 2 = 0 THEN 'Summary of exchange ' || i || ': ' || ${words} END
     FROM range(1, 2 * $1 + 1) t(i)`,
    [conversations],
  );
}

/** True once every worker is busy (not idle, paused or starting), false after ms. */
async function untilAllBusy(manager: WorkerManager, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (manager.status().every((s) => s.state === 'running')) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** A chat model that answers after a fixed delay. */
class SlowModel implements ChatProvider {
  readonly name = 'openai';
  readonly description = 'a simulated model';
  readonly available = true;

  constructor(private readonly latencyMs: number) {}

  async complete(messages: ChatMessage[]): Promise<ChatReply> {
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    const text = messages.at(-1)?.content.slice(0, 120) ?? '';
    return { text: `Summary: ${text}`, model: 'simulated' };
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (name: string, fallback: number) => {
    const at = process.argv.indexOf(`--${name}`);
    return at > 0 ? Number(process.argv[at + 1]) : fallback;
  };
  console.log(`pause latency: ${os.cpus().length} cores, Node ${process.version}`);
  benchPauseLatency({
    pauses: arg('pauses', 100),
    runMs: arg('run-ms', 20),
    modelLatencyMs: arg('model-ms', 20),
    log: (line) => console.log(line),
  }).then(
    (figures) => console.log(JSON.stringify(figures, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
