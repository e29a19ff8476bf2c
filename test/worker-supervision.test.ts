import { describe, expect, it } from 'vitest';
import type { ChatProvider } from '../src/app.js';
import type { WorkerManagerOptions } from '../src/workers-host/worker-manager.js';
import * as crash from './fixtures/worker-hooks/crash-once.js';
import { allProcessed, fixtureHooks, seedChat, summarisedExchanges, workerSetUp } from './helpers/workers.js';

// The supervisor's side: real threads that crash, stop and start, and keep working across a close and reopen
// of the database (where a worker holding the old handle would die silently).

async function setUp(options: Partial<WorkerManagerOptions> = {}) {
  return workerSetUp(options);
}

describe('supervising the background workers', () => {
  it('restarts a worker whose thread crashes, and shows the crash in its status', async () => {
    const crashing = fixtureHooks('crash-once', crash.CELLS);
    Atomics.store(crashing.cells, crash.CRASHES_LEFT, 1);
    const { store, manager, activity } = await setUp({
      names: ['exchange-summarizer'],
      restart: { initialMs: 60_000, maxMs: 60_000, stableMs: 60_000 },
      hooks: { 'exchange-summarizer': crashing.spec },
    });
    await seedChat(store, 1, 2);
    manager.startAll();

    await activity.until(() => activity.crashes.length === 1, 20_000, 'the crash');
    const crashed = manager.status()[0]!;
    expect(crashed).toMatchObject({ state: 'crashed', crashes: 1, lastError: /injected crash/ });
    expect(crashed.restartAt).toBeGreaterThan(Date.now());
    expect(activity.crashes[0]).toMatchObject({ name: 'exchange-summarizer', error: /injected crash/ });

    // The backoff here is a minute (the next test lets a short one run out); stop and start skip it.
    await manager.stop('exchange-summarizer');
    expect(manager.status()[0]!.state).toBe('stopped');
    manager.start('exchange-summarizer');
    await activity.until(async () => (await summarisedExchanges(store)) === 2, 20_000, 'both exchanges summarised');
    expect(manager.status()[0]).toMatchObject({ crashes: 1, done: 2 });
  });

  it('restarts a crashed worker by itself after the backoff', async () => {
    const crashing = fixtureHooks('crash-once', crash.CELLS);
    Atomics.store(crashing.cells, crash.CRASHES_LEFT, 1);
    const { store, manager, activity } = await setUp({
      names: ['exchange-summarizer'],
      hooks: { 'exchange-summarizer': crashing.spec },
    });
    await seedChat(store, 1, 2);
    manager.startAll();
    await activity.until(async () => (await summarisedExchanges(store)) === 2, 20_000, 'both exchanges summarised');
    expect(activity.crashes).toHaveLength(1);
    expect(manager.status()[0]).toMatchObject({ crashes: 1, lastError: /injected crash/ });
    expect(['running', 'idle']).toContain(manager.status()[0]!.state);
  });

  it('records a failing item in failed_jobs and keeps the worker running', async () => {
    let calls = 0;
    const flaky: ChatProvider = {
      name: 'openai',
      description: 'fails the first call',
      available: true,
      complete: async () => {
        if (++calls === 1) throw Object.assign(new Error('model overloaded'), { code: 'LLM_HTTP_STATUS' });
        return { text: 'fine', model: 'flaky' };
      },
    };
    const { store, manager, activity } = await setUp({ names: ['exchange-summarizer'], provider: () => flaky });
    await seedChat(store, 1, 2);
    manager.startAll();
    await activity.until(
      () => activity.count('failed') === 1 && activity.count('written') === 1,
      20_000,
      'one of each',
    );
    const [job] = await store.all(
      `SELECT job, item_kind, attempts, error, retry_after > now() AS later FROM failed_jobs`,
    );
    expect(job).toEqual({
      job: 'exchange-summarizer',
      item_kind: 'exchange',
      attempts: 1,
      error: 'model overloaded [LLM_HTTP_STATUS]',
      later: true,
    });
    expect(manager.status()[0]).toMatchObject({ done: 1, failed: 1, lastError: /model overloaded/, crashes: 0 });
  });

  it('keeps every worker working after the database is closed and reopened under a pause', async () => {
    const { store, manager, activity } = await setUp();
    await seedChat(store, 2, 2);
    manager.startAll();
    await activity.until(allProcessed(store, 2, 4), 30_000, 'the first summaries and embeddings');

    // What a backup does: pause, hold the write gate, close, reopen, release, resume.
    await manager.pauseAll();
    await manager.waitUntilAllPaused(5_000);
    const held = await store.hold(5_000);
    await held.close();
    await held.reopen();
    held.release();
    await manager.resumeAll(5_000);

    await seedChat(store, 1, 3, (c, e) => `new topic ${c}.${e}`);
    manager.nudge();
    await activity.until(allProcessed(store, 3, 7), 30_000, 'summaries and embeddings of the new chat');
    expect(manager.status().map((s) => s.crashes)).toEqual([0, 0, 0]);
  });

  it('keeps a worker stopped by the user stopped across pauseAll and resumeAll', async () => {
    const { manager } = await setUp();
    manager.startAll();
    await manager.stop('embeddings');
    manager.pause('exchange-summarizer');
    await manager.pauseAll();
    await manager.waitUntilAllPaused(10_000);
    await manager.resumeAll(10_000);
    expect(manager.status().map((s) => [s.name, s.state])).toEqual([
      ['conversation-summarizer', expect.stringMatching(/^(starting|running|idle)$/)],
      ['exchange-summarizer', 'paused'],
      ['embeddings', 'stopped'],
    ]);
    expect(() => manager.start('nonesuch')).toThrow(/no background worker named nonesuch/);
  });
});
