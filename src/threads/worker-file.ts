import { Worker } from 'node:worker_threads';
import type { WorkerOptions } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { WorkerFile } from '../../workers/protocol.js';

// Workers run from compiled .js files after `tsc` (about 60 ms to start). Under the dev runner and inside
// vitest this module is itself a .ts file, and a worker started from a .ts file needs tsx's ESM loader
// registered in the worker (ARCHITECTURE.md): that costs about 300 ms, so it is only for development and tests.
// One helper serves worker_threads, piscina and tests alike.

const runningFromSource = import.meta.url.endsWith('.ts');

export type { WorkerFile };

/** `workerFile('embeddings')` → the embeddings worker under workers/, compiled or from source. */
export function workerFile(name: string): WorkerFile {
  const extension = runningFromSource ? '.ts' : '.js';
  const filename = fileURLToPath(new URL(`../../workers/${name}${extension}`, import.meta.url));
  return { filename, execArgv: runningFromSource ? ['--import', 'tsx'] : [] };
}

/**
 * Starts workers/<name> in a new thread. From source, the entry is a two-step bootstrap: register tsx's hooks
 * in the thread, then import the .ts module. (On Node 20 `--import tsx` in a worker's execArgv did not make a
 * .ts entry loadable: ERR_UNKNOWN_FILE_EXTENSION, measured here.)
 */
export function startWorker(name: string, options: Omit<WorkerOptions, 'eval' | 'execArgv'> = {}): Worker {
  const { filename } = workerFile(name);
  if (!runningFromSource) return new Worker(filename, options);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = pathToFileURL(filename).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
