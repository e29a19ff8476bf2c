import fs from 'node:fs';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../shared/comlink-node.js';
import { fsyncFile } from '../shared/fsync-file.js';
import { scanFile } from '../shared/file-hash.js';
import { CANCEL_INDEX } from '../shared/copy-engine-protocol.js';
import type {
  BackupVerification,
  CopyMethod,
  CopyResult,
  CopyTask,
  EngineTask,
  HashResult,
  HashTask,
  ProgressSink,
  TaskError,
  VerifyTask,
} from '../shared/copy-engine-protocol.js';

// The copy engine's piscina tasks, dispatched by `op` through the default export: piscina loads a thread's
// default handler when the thread starts, so the tasks are ready before the first one arrives (a named handler is
// looked up on first use, which cost ~1.8 s from source). Each runs in a pool thread; the main thread only draws
// progress.
//
// How to copy was measured (bench/backup-copy.ts, 1 GiB, ext4, copy + fsync): fs.copyFile 1.02-1.15 s, `cp` +
// sync 0.89-1.05 s, a synchronous 8 MiB read/write loop 1.21-1.32 s. The kernel copy wins and leaves this thread
// free to poll the destination's size for progress. A reflink clone, where the file system offers one, is made
// on the main thread before any task runs (src/backup/clone-file.ts); the copy task is for the other file
// systems. The source is hashed by a second task in another thread at the same time, one block at a time
// (file-hash.ts), while the copy mostly waits on the disk.

const cancelled = (flag: SharedArrayBuffer) => Atomics.load(new Int32Array(flag), CANCEL_INDEX) !== 0;
const cancelError = (): TaskError => ({ message: 'cancelled', code: 'ABORT_ERR', cancelled: true });

function taskError(err: unknown): TaskError {
  if (err instanceof Error) return { message: err.message, code: (err as NodeJS.ErrnoException).code };
  return { message: String(err) };
}

export async function copy(task: CopyTask): Promise<CopyResult> {
  const started = performance.now();
  const sink = Comlink.wrap<ProgressSink>(nodeEndpoint(task.progressPort));
  let total = 0;
  const report = (bytes: number) => void sink.progress(bytes, total).catch(() => undefined);
  let poll: NodeJS.Timeout | undefined;
  try {
    total = fs.statSync(task.source).size;
    if (cancelled(task.cancel)) return { ok: false, error: cancelError() };
    report(0);
    poll = setInterval(() => {
      try {
        report(fs.statSync(task.temp).size);
      } catch {
        // not created yet
      }
    }, task.pollMs);
    const fault = task.fault;
    const method: CopyMethod = fault && 'failAtByte' in fault ? 'injected-fault' : 'kernel';
    if (fault && 'failAtByte' in fault) copyUntilFault(task.source, task.temp, fault.failAtByte);
    else await kernelCopy(task.source, task.temp, fault?.writebackError);
    clearInterval(poll);
    // The kernel copy cannot be interrupted once started; a cancel that came meanwhile takes effect here.
    if (cancelled(task.cancel)) throw Object.assign(new Error('cancelled'), { code: 'ABORT_ERR' });
    fs.chmodSync(task.temp, 0o600); // the copy holds every conversation: owner only, whatever the source had
    fsyncFile(task.temp);
    const bytes = fs.statSync(task.temp).size;
    if (bytes !== total) throw new Error(`copied ${bytes} bytes of ${total}`);
    report(bytes);
    return { ok: true, bytes, method, ms: performance.now() - started };
  } catch (err) {
    fs.rmSync(task.temp, { force: true });
    return { ok: false, error: cancelled(task.cancel) ? cancelError() : taskError(err) };
  } finally {
    clearInterval(poll);
    sink[Comlink.releaseProxy]();
    task.progressPort.close();
  }
}

/**
 * The kernel's copy (copy_file_range), with the temporary file's write-back started while the copy still runs.
 * The main thread tried a reflink clone first (src/backup/clone-file.ts); this is the byte copy where that failed.
 *
 * Linux writes dirty pages back by itself only past dirty_background_ratio (10 % of memory, 2.4 GiB on this
 * 24 GiB machine), so a plain copy of a 1 GiB file fills the page cache in well under a second and its fsync
 * then waits for all of it to reach the disk: `cp` + fsync works the same way. Asking for the write-back from the
 * start (fdatasync after fdatasync on a second descriptor, each taking what was written since the last) keeps the
 * disk busy during the copy, so the final fsync finds little left. Measured on 1 GiB, ext4, 2 cores, the source
 * hashed beside it: copy + fsync 2.0-2.1 s with, 2.3-2.9 s without, `cp` + sync 2.2-2.5 s (`npm run bench`
 * reports the engine alone against `cp` + fsync, and the window of whole backups).
 *
 * A failed fdatasync fails the copy: Linux reports a write-back error once per open file, so the final fsync,
 * on a descriptor opened later, might not see an error this one was told of.
 */
async function kernelCopy(source: string, temp: string, writebackError?: string): Promise<void> {
  let copying = true;
  // EXCL: the temporary name is new; never write through a file someone else made.
  const copied = fs.promises.copyFile(source, temp, fs.constants.COPYFILE_EXCL).finally(() => {
    copying = false;
  });
  const writeback = writeBackWhileCopying(temp, () => copying, writebackError);
  const [copy, flushed] = await Promise.allSettled([copied, writeback]);
  if (copy.status === 'rejected') throw copy.reason;
  if (flushed.status === 'rejected') throw flushed.reason;
}

/** fdatasync after fdatasync until the copy ends (at least one once the file exists). */
async function writeBackWhileCopying(temp: string, copying: () => boolean, injected?: string): Promise<void> {
  const handle = await openOnceCreated(temp, copying);
  if (!handle) return; // the copy ended without creating the file: its own error says why
  try {
    do {
      if (injected) throw Object.assign(new Error(`write-back failed (injected ${injected})`), { code: injected });
      await handle.datasync();
    } while (copying());
  } finally {
    await handle.close();
  }
}

/** The temporary file once the copy has created it (inside our own 0700 directory: durable-file.ts). */
async function openOnceCreated(temp: string, copying: () => boolean): Promise<fs.promises.FileHandle | undefined> {
  for (;;) {
    const running = copying(); // read before trying: a copy that ended before a failed open created nothing
    try {
      return await fs.promises.open(temp, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !running) return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The seam behind CopyTask.fault: writes the first failAtByte bytes for real, then fails like a full disk. */
function copyUntilFault(source: string, temp: string, failAtByte: number): void {
  const input = fs.openSync(source, 'r');
  const output = fs.openSync(temp, 'wx', 0o600);
  try {
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(failAtByte, 1 << 20)));
    let written = 0;
    while (written < failAtByte) {
      const n = fs.readSync(input, buffer, 0, Math.min(buffer.length, failAtByte - written), null);
      if (n === 0) break;
      fs.writeSync(output, buffer, 0, n);
      written += n;
    }
  } finally {
    fs.closeSync(input);
    fs.closeSync(output);
  }
  throw Object.assign(new Error(`no space left on device (injected after ${failAtByte} bytes)`), { code: 'ENOSPC' });
}

export function hash(task: HashTask): HashResult {
  const started = performance.now();
  try {
    const scanned = scanFile(task.file, {
      algorithm: task.algorithm,
      checkBlocks: task.checkBlocks,
      cancelled: () => cancelled(task.cancel),
    });
    if (scanned === 'cancelled') return { ok: false, error: cancelError() };
    return {
      ok: true,
      bytes: scanned.bytes,
      hash: scanned.hash!,
      blocks: scanned.blocks,
      ms: performance.now() - started,
    };
  } catch (err) {
    return { ok: false, error: taskError(err) };
  }
}

/** Full verification of a file (verify-backup.ts); a cancel is noticed between its steps. */
export async function verify(task: VerifyTask): Promise<BackupVerification | { cancelled: true }> {
  const controller = new AbortController();
  const watch = setInterval(() => {
    if (cancelled(task.cancel)) controller.abort();
  }, 20);
  try {
    // Loaded on first use: DuckDB's bindings take ~300 ms to load, and the copy and hash threads never need them.
    const { verifyBackupFile } = await import('./verify-backup.js');
    return await verifyBackupFile(task.file, task.expected, controller.signal, { checkHash: task.checkHash ?? true });
  } catch (err) {
    if (controller.signal.aborted) return { cancelled: true };
    throw err;
  } finally {
    clearInterval(watch);
  }
}

export default function run(
  task: EngineTask,
): Promise<CopyResult | HashResult | BackupVerification | { cancelled: true }> {
  switch (task.op) {
    case 'copy':
      return copy(task);
    case 'hash':
      return Promise.resolve(hash(task));
    case 'verify':
      return verify(task);
  }
}
