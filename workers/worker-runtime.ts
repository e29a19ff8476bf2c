import { parentPort, workerData } from 'node:worker_threads';
import { expose, releaseProxy, wrap } from 'comlink';
import { nodeEndpoint } from './shared/comlink-node.js';
import { PauseGate } from './pause-gate.js';
import { runPausableLoop } from './pausable-loop.js';
import type { Job } from './pausable-loop.js';
import type { ItemHooks, MemoryPortApi, WorkerControlApi, WorkerData, WorkItem } from './shared/protocol.js';
import type { Remote } from 'comlink';

// What every worker thread does around its job: take the control block and the memory port from workerData,
// expose the control API, run the shared loop, and on stop give everything back (the job's pool, the Comlink
// proxy, both ports) before the thread ends. An error that escapes the loop is not caught here: the thread
// dies, and the owner's supervisor records the crash and starts it again.

export interface JobContext {
  data: WorkerData;
  port: Remote<MemoryPortApi>;
}

export async function runWorker<I extends WorkItem>(makeJob: (context: JobContext) => Job<I>): Promise<void> {
  const data = workerData as WorkerData;
  if (!parentPort) throw new Error('a background worker must run in a worker thread');
  const gate = new PauseGate(new Int32Array(data.control));
  const port = wrap<MemoryPortApi>(nodeEndpoint(data.memoryPort));
  const control: WorkerControlApi = { ping: async (nonce) => nonce };
  expose(control, nodeEndpoint(parentPort));

  const hooks = data.hooks ? ((await import(data.hooks.module)) as { default: ItemHooks }).default : undefined;
  const job = makeJob({ data, port });
  await runPausableLoop({
    gate,
    port,
    job,
    batchSize: data.settings.batchSize,
    idlePollMs: data.settings.idlePollMs,
    hooks,
    hookContext: { worker: data.name, data: data.hooks?.data },
  });

  await job.close?.();
  port[releaseProxy]();
  data.memoryPort.close();
  gate.stopped();
  // Ends this thread only (not the process): the owner sees exit code 0 after a requested stop.
  process.exit(0);
}
