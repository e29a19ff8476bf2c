import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CopyEngine } from '../src/backup/copy-engine.js';
import { median, timeCpWithFsync } from './reference-copies.js';

// The copy engine alone, against `cp` + fsync of the same file in the same run: the kernel copy (COPYFILE_FICLONE,
// falling back to copy_file_range) with fsync, in one pool thread, while a second thread hashes the source with
// XXH3-128, exactly as a backup's copying step runs them. Also the parts on their own, and the main
// thread's event-loop delay while the engine works (the REPL must stay responsive).
//
//   node dist/bench/backup-copy.js [sizeMiB=1024] [reps=5]

export interface CopyBenchOptions {
  sizeMiB: number;
  reps: number;
  dir: string;
  log?: (line: string) => void;
}

export interface CopyBenchReport {
  sizeMiB: number;
  /** Medians, milliseconds. */
  cpFsyncMs: number;
  engineMs: number;
  engineCopyOnlyMs: number;
  hashXxh3_128Ms: number;
  hashXxh3_64Ms: number;
  /** cp + fsync time / engine time: 1.0 means as fast as cp. */
  ratioToCp: number;
  engineMiBps: number;
  /** Event-loop delay on the main thread while the engine ran (worst run). */
  loopP99Ms: number;
}

export async function benchBackupCopy(options: CopyBenchOptions): Promise<CopyBenchReport> {
  const log = options.log ?? (() => {});
  const source = path.join(options.dir, `copy-bench-${options.sizeMiB}.bin`);
  writeRandomFile(source, options.sizeMiB);
  void fs.readFileSync(source).length; // in the page cache, like a database file just checkpointed and closed
  const engine = CopyEngine.start();
  const samples = {
    cp: [] as number[],
    engine: [] as number[],
    copy: [] as number[],
    h128: [] as number[],
    h64: [] as number[],
  };
  let loopP99 = 0;
  try {
    await engine.hash(source, 'xxh3-64'); // threads loaded before timing
    for (let rep = 0; rep < options.reps; rep++) {
      samples.cp.push(await timeCpWithFsync(source, path.join(options.dir, 'cp-target.bin')));

      const temp = path.join(options.dir, `engine-target-${rep}.bin`);
      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      let start = performance.now();
      await Promise.all([engine.copy({ source, temp }), engine.hash(source, 'xxh3-128')]);
      samples.engine.push(performance.now() - start);
      delay.disable();
      loopP99 = Math.max(loopP99, delay.percentile(99) / 1e6);
      fs.rmSync(temp, { force: true });

      start = performance.now();
      await engine.copy({ source, temp });
      samples.copy.push(performance.now() - start);
      fs.rmSync(temp, { force: true });

      start = performance.now();
      await engine.hash(source, 'xxh3-128');
      samples.h128.push(performance.now() - start);
      start = performance.now();
      await engine.hash(source, 'xxh3-64');
      samples.h64.push(performance.now() - start);
      log(
        `  rep ${rep + 1}: cp+fsync ${samples.cp.at(-1)!.toFixed(0)} ms, engine ${samples.engine.at(-1)!.toFixed(0)} ms` +
          ` (copy alone ${samples.copy.at(-1)!.toFixed(0)}, xxh3-128 ${samples.h128.at(-1)!.toFixed(0)},` +
          ` xxh3-64 ${samples.h64.at(-1)!.toFixed(0)})`,
      );
    }
  } finally {
    await engine.destroy();
    fs.rmSync(source, { force: true });
  }
  const engineMs = median(samples.engine);
  const cpFsyncMs = median(samples.cp);
  return {
    sizeMiB: options.sizeMiB,
    cpFsyncMs,
    engineMs,
    engineCopyOnlyMs: median(samples.copy),
    hashXxh3_128Ms: median(samples.h128),
    hashXxh3_64Ms: median(samples.h64),
    ratioToCp: cpFsyncMs / engineMs,
    engineMiBps: options.sizeMiB / (engineMs / 1000),
    loopP99Ms: loopP99,
  };
}

function writeRandomFile(file: string, sizeMiB: number): void {
  const fd = fs.openSync(file, 'w');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let i = 0; i < sizeMiB; i++) {
      for (let o = 0; o < chunk.length; o += 4) chunk.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, o);
      fs.writeSync(fd, chunk);
    }
  } finally {
    fs.closeSync(fd);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const sizeMiB = Number(process.argv[2] ?? 1024);
  const reps = Number(process.argv[3] ?? 5);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-copy-bench-'));
  try {
    console.log(`copy engine vs cp + fsync, ${sizeMiB} MiB, ${reps} runs (${dir})`);
    const report = await benchBackupCopy({ sizeMiB, reps, dir, log: console.log });
    console.log(JSON.stringify(report, null, 2));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
