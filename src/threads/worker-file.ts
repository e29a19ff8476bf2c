import { Worker } from 'node:worker_threads';
import type { WorkerOptions } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { WorkerFile } from '../../workers/shared/protocol.js';

// Where each thread's code lives and how a thread loads it. Entry points are named for what runs them:
// workers/<name>.worker.ts is a long-lived thread (startWorker), workers/<name>.task.ts a piscina task module
// (taskFile gives piscina its `filename` and `execArgv`). After `tsc` they are .js files that need nothing, and
// a thread starts in about 60 ms. Run from source (vitest, tsx) they are .ts files and one way loads both kinds:
// the thread's execArgv imports a one-line module that registers tsx's ESM hooks in that thread. Measured on
// Node 20: `--import tsx` alone let piscina load a .ts task but a thread whose entry is a .ts file still failed
// (ERR_UNKNOWN_FILE_EXTENSION), and so did an eval'd `import()` of it. A thread from source costs about 300 ms,
// so it is only for development and tests.

const runningFromSource = import.meta.url.endsWith('.ts');

export type { WorkerFile };

/** `taskFile('embed-batch')` → workers/embed-batch.task, compiled or from source: piscina's filename and execArgv. */
export function taskFile(name: string): WorkerFile {
  return threadFile(`${name}.task`);
}

/** Starts workers/<name>.worker in a new thread, compiled or from source. */
export function startWorker(name: string, options: Omit<WorkerOptions, 'eval' | 'execArgv'> = {}): Worker {
  const { filename, execArgv } = threadFile(`${name}.worker`);
  return new Worker(filename, { ...options, execArgv });
}

function threadFile(stem: string): WorkerFile {
  const extension = runningFromSource ? '.ts' : '.js';
  const filename = fileURLToPath(new URL(`../../workers/${stem}${extension}`, import.meta.url));
  return { filename, execArgv: runningFromSource ? ['--import', registerTsx()] : [] };
}

/** A data: module that registers tsx's ESM hooks (resolved here, so it works whatever the thread's cwd). */
function registerTsx(): string {
  const api = import.meta.resolve('tsx/esm/api');
  return `data:text/javascript,import { register } from ${JSON.stringify(api)}; register();`;
}
