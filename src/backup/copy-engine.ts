import fs from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { Piscina } from 'piscina';
import { taskFile } from '../threads/worker-file.js';
import { nodeEndpoint } from '../../workers/shared/comlink-node.js';
import { CANCEL_INDEX } from '../../workers/shared/copy-engine-protocol.js';
import type {
  CopyFault,
  CopyMethod,
  CopyResult,
  HashResult,
  ProgressSink,
  BackupVerification,
  ExpectedContent,
  VerifyCheck,
} from '../../workers/shared/copy-engine-protocol.js';
import { cloneFile } from './clone-file.js';
import { isHashAlgorithm } from '../../workers/shared/file-hash.js';
import type { HashAlgorithm } from '../../workers/shared/file-hash.js';
import { blocksCheck, hashCheck } from '../../workers/shared/verify-checks.js';
import type { BlockCheckResult } from '../../workers/shared/duckdb-file/block-check.js';
import { messageOf } from '../errors.js';

// The main thread's handle on the copy engine: a small piscina pool (two threads: the copy and the hash of the
// source run side by side) whose tasks live in workers/copy-engine/engine.task.ts. An AbortSignal reaches a
// running task through shared memory (copy-engine-protocol.ts); progress comes back through a Comlink proxy on a
// MessageChannel.

export class CopyEngineError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly cancelled: boolean,
  ) {
    super(message);
    this.name = cancelled ? 'AbortError' : 'CopyEngineError';
  }
}

export interface CopyRequest {
  source: string;
  temp: string;
  signal?: AbortSignal | undefined;
  onProgress?: ((copiedBytes: number, totalBytes: number) => void) | undefined;
  fault?: CopyFault | undefined;
}

export class CopyEngine {
  /** The clone attempt of each copy in progress, by source: true if it cloned (see hashBesideCopy). */
  private readonly cloneAttempts = new Map<string, Promise<boolean>>();

  private constructor(private readonly pool: Piscina) {}

  /**
   * Starts the pool. Its two threads start at once and load the tasks (300 ms each from source, 60 ms compiled),
   * so a backup starts the engine before pausing anything and the pause does not pay for it.
   */
  static start(): CopyEngine {
    return new CopyEngine(
      new Piscina({
        ...taskFile('copy-engine/engine'),
        minThreads: 2,
        maxThreads: 2,
        // The pool lives for one run (destroy() at its end), so an idle REPL holds no copy threads.
      }),
    );
  }

  /**
   * Clones or copies source to temp, fsynced, mode 0600, and says which (`clone` needs no source hash). Rejects
   * with CopyEngineError; the temp file is gone then.
   */
  async copy(request: CopyRequest): Promise<{ bytes: number; ms: number; method: CopyMethod }> {
    if (!request.fault) {
      const cloned = await this.tryClone(request);
      if (cloned) return cloned;
    }
    const { port1, port2 } = new MessageChannel();
    // Progress stops at a cancel (the kernel copy runs on to its end, but the user asked to stop) and once the
    // result is in: the worker's last report can arrive after the result, and must not move a finished bar.
    let settled = false;
    const sink: ProgressSink = {
      progress: (copied, total) => {
        if (!settled && !request.signal?.aborted) request.onProgress?.(copied, total);
      },
    };
    Comlink.expose(sink, nodeEndpoint(port1));
    const cancel = cancelFlag(request.signal);
    try {
      const result: CopyResult = await this.pool.run(
        {
          op: 'copy',
          source: request.source,
          temp: request.temp,
          cancel: cancel.buffer,
          progressPort: port2,
          pollMs: 100,
          fault: request.fault,
        },
        { transferList: [port2] },
      );
      if (!result.ok) throw new CopyEngineError(result.error.message, result.error.code, !!result.error.cancelled);
      // The final figure, before the copy step ends: a bar reaches 100 % before the next step line.
      request.onProgress?.(result.bytes, result.bytes);
      return { bytes: result.bytes, ms: result.ms, method: result.method };
    } finally {
      settled = true;
      cancel.dispose();
      port1.close();
    }
  }

  /**
   * The source's hash taken beside a copy of it (copy() called first): waits for the copy's clone attempt and
   * is not taken where the file was cloned (rejects as cancelled: a clone needs no source hash, and reading the
   * whole file beside the clone slowed the clone from a few milliseconds to 60-160 ms on a busy machine).
   */
  async hashBesideCopy(
    file: string,
    algorithm: HashAlgorithm,
    signal?: AbortSignal,
  ): Promise<{ bytes: number; hash: string }> {
    if (await this.cloneAttempts.get(file))
      throw new CopyEngineError('not needed: the file was cloned', 'ABORT_ERR', true);
    return this.hash(file, algorithm, signal);
  }

  /** Reads file in a pool thread and hashes it; with checkBlocks, checks DuckDB's block checksums in that read. */
  async hash(
    file: string,
    algorithm: HashAlgorithm,
    signal?: AbortSignal,
    options: { checkBlocks?: boolean } = {},
  ): Promise<{ bytes: number; hash: string; blocks?: BlockCheckResult | undefined }> {
    const cancel = cancelFlag(signal);
    try {
      const result: HashResult = await this.pool.run({
        op: 'hash',
        file,
        algorithm,
        cancel: cancel.buffer,
        checkBlocks: options.checkBlocks,
      });
      if (!result.ok) throw new CopyEngineError(result.error.message, result.error.code, !!result.error.cancelled);
      return { bytes: result.bytes, hash: result.hash, blocks: result.blocks };
    } finally {
      cancel.dispose();
    }
  }

  /**
   * Size, hash re-read from disk with every block's DuckDB checksum in the same read, read-only open and every
   * table's figures (verify-backup.ts), off the main thread. The hash and the DuckDB read run in the pool's two threads at once: each reads the whole file, and
   * one after the other they took 1.3 times as long at 1 GiB (`npm run bench`).
   */
  async verify(file: string, expected: ExpectedContent, signal?: AbortSignal): Promise<BackupVerification> {
    const algorithm = expected.hash.algorithm;
    const rehash = isHashAlgorithm(algorithm)
      ? this.hash(file, algorithm, signal, { checkBlocks: true }).then(ok, failed)
      : undefined;
    const cancel = cancelFlag(signal);
    try {
      const result: BackupVerification | { cancelled: true } = await this.pool.run({
        op: 'verify',
        file,
        expected,
        cancel: cancel.buffer,
        checkHash: rehash === undefined, // an unknown algorithm is reported by the task itself
      });
      if ('cancelled' in result) throw new CopyEngineError('cancelled', 'ABORT_ERR', true);
      if (rehash) addHashCheck(result, algorithm, expected.hash.value, await rehash);
      return result;
    } finally {
      cancel.dispose();
    }
  }

  /** A clone on this thread (clone-file.ts), or undefined where the file system cannot clone. */
  private async tryClone(request: CopyRequest): Promise<{ bytes: number; ms: number; method: CopyMethod } | undefined> {
    const started = performance.now();
    const attempt = cloneFile(request.source, request.temp);
    this.cloneAttempts.set(
      request.source,
      attempt.then(
        (bytes) => bytes !== undefined,
        () => false,
      ),
    );
    let bytes: number | undefined;
    try {
      bytes = await attempt;
    } catch (err) {
      throw new CopyEngineError(messageOf(err), (err as NodeJS.ErrnoException).code, false);
    } finally {
      this.cloneAttempts.delete(request.source);
    }
    if (bytes === undefined) return undefined;
    // Like the pool's copy: a cancel that came during the (uninterruptible) clone takes effect now.
    if (request.signal?.aborted) {
      fs.rmSync(request.temp, { force: true });
      throw new CopyEngineError('cancelled', 'ABORT_ERR', true);
    }
    request.onProgress?.(bytes, bytes);
    return { bytes, ms: performance.now() - started, method: 'clone' };
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}

function cancelFlag(signal: AbortSignal | undefined) {
  const buffer = new SharedArrayBuffer(4);
  const set = () => Atomics.store(new Int32Array(buffer), CANCEL_INDEX, 1);
  if (signal?.aborted) set();
  signal?.addEventListener('abort', set, { once: true });
  return { buffer, dispose: () => signal?.removeEventListener('abort', set) };
}

type Rehash = { ok: true; hash: string; blocks?: BlockCheckResult | undefined } | { ok: false; error: unknown };
const ok = (r: { hash: string; blocks?: BlockCheckResult | undefined }): Rehash => ({
  ok: true,
  hash: r.hash,
  blocks: r.blocks,
});
const failed = (error: unknown): Rehash => ({ ok: false, error });

/** Puts the hash and blocks checks where verify-backup.ts would have: after the size, before the DuckDB checks. */
function addHashCheck(
  result: BackupVerification,
  algorithm: string,
  expected: string | undefined,
  rehash: Rehash,
): void {
  if (!rehash.ok && rehash.error instanceof CopyEngineError && rehash.error.cancelled) throw rehash.error;
  const checks: VerifyCheck[] = rehash.ok
    ? [hashCheck(algorithm, rehash.hash, expected)]
    : [
        { name: 'hash', ok: false, detail: `cannot read the file: ${messageOf(rehash.error)}` },
        { name: 'blocks', ok: false, detail: `cannot read the file: ${messageOf(rehash.error)}` },
      ];
  if (rehash.ok && rehash.blocks) checks.push(blocksCheck(rehash.blocks));
  if (rehash.ok) result.actual.hash = rehash.hash;
  // A file that is not there at all already failed its first check; a second line would say the same.
  if (result.checks[0]?.name === 'file') return;
  const at = result.checks.findIndex((c) => c.name === 'size') + 1;
  result.checks.splice(at, 0, ...checks);
  result.ok = result.checks.every((c) => c.ok);
}
