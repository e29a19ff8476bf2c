import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { MemoryStore } from '../src/store/memory-store.js';
import { fsyncFile } from '../workers/shared/fsync-file.js';

// The yardsticks the copy engine is compared with, each measured in the same run on the same file:
// `cp` + fsync (the target), the first design's 8 KiB read/write loop (for reference), and DuckDB's online
// alternative, COPY FROM DATABASE into an attached file.

/** Milliseconds for `cp src dst` followed by an fsync of dst. */
export async function timeCpWithFsync(src: string, dst: string): Promise<number> {
  fs.rmSync(dst, { force: true });
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('cp', [src, dst], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cp exited with ${code}`))));
  });
  fsyncFile(dst);
  const ms = performance.now() - start;
  fs.rmSync(dst, { force: true });
  return ms;
}

/** Milliseconds for the first design's copy: async 8 KiB reads and writes, then fsync. */
export async function timeSeedLoopCopy(src: string, dst: string): Promise<number> {
  fs.rmSync(dst, { force: true });
  const start = performance.now();
  const input = await fs.promises.open(src, 'r');
  const output = await fs.promises.open(dst, 'w');
  const chunk = Buffer.allocUnsafe(8192);
  try {
    for (;;) {
      const { bytesRead } = await input.read(chunk, 0, chunk.length);
      if (bytesRead === 0) break;
      await output.write(chunk, 0, bytesRead);
    }
    await output.sync();
  } finally {
    await input.close();
    await output.close();
  }
  const ms = performance.now() - start;
  fs.rmSync(dst, { force: true });
  return ms;
}

/** Milliseconds for DuckDB's online copy of a closed database file into a new file (the database stays open). */
export async function timeOnlineCopy(dbPath: string, dst: string): Promise<number> {
  fs.rmSync(dst, { force: true });
  const store = await MemoryStore.open(dbPath);
  try {
    const start = performance.now();
    const catalog = path.basename(dbPath).replace(/\.[^.]*$/, '');
    const quoted = dst.replaceAll("'", "''");
    await store.run(`ATTACH '${quoted}' AS online_copy`);
    await store.run('BEGIN TRANSACTION');
    await store.run(`COPY FROM DATABASE "${catalog}" TO online_copy`);
    await store.run('COMMIT');
    await store.run('DETACH online_copy');
    fsyncFile(dst);
    return performance.now() - start;
  } finally {
    await store.close();
    fs.rmSync(dst, { force: true });
    fs.rmSync(dst + '.wal', { force: true });
  }
}

/** Watches the main thread's event-loop delay and RSS while something runs. */
export function startWatch(): {
  stop(): { loopP50Ms: number; loopP99Ms: number; loopMaxMs: number; rssGrowthMiB: number };
} {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const baseRss = process.memoryUsage().rss;
  let peakRss = baseRss;
  const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 5);
  return {
    stop() {
      clearInterval(timer);
      histogram.disable();
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      return {
        loopP50Ms: histogram.percentile(50) / 1e6,
        loopP99Ms: histogram.percentile(99) / 1e6,
        loopMaxMs: histogram.max / 1e6,
        rssGrowthMiB: (peakRss - baseRss) / 2 ** 20,
      };
    },
  };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
