import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Output } from '../src/app.js';
import { createApp } from '../src/app/create-app.js';
import type { MemoryStore } from '../src/store/memory-store.js';
import { fsyncFile } from '../workers/shared/fsync-file.js';
import { median, startWatch, timeCpWithFsync, timeOnlineCopy, timeSeedLoopCopy } from './reference-copies.js';

// One size of the benchmark on one file system: a generated memory database, the three workers kept busy, and
// backups taken through the real BackupService, each compared with `cp` + fsync of the same file in the same
// run; then one `nu-agent backup --json` from start to exit.

export type BenchContent = 'bench' | 'random-text';

export interface SizeOptions {
  sizeMiB: number;
  /** `bench`: realistic prose and embeddings (generate-db.ts); `random-text`: long random text. */
  content: BenchContent;
  /** What the directory's file system is, for the report (`ext4`, `xfs-reflink`, …). */
  fileSystem: string;
  /** A generated database of this size and content; it is copied into `dir` first. */
  sourceDb: string;
  reps: number;
  /** Scratch directory on the file system measured. */
  dir: string;
  /** Run the first design's 8 KiB loop too (slow: about 45 s per GiB). */
  seedLoop: boolean;
  online: boolean;
  log: (line: string) => void;
}

export interface SizeReport {
  sizeMiB: number;
  content: BenchContent;
  fileSystem: string;
  fileBytes: number;
  cpFsyncMs: number;
  backupMs: number;
  copyMs: number;
  /** `cloned` or `copied`, as the backups said. */
  copy: string;
  verifyMs: number;
  auditMs: number;
  /** The states issue 7 sets a target for together: validating, pausing, checkpointing, reopening, resuming. */
  overheadMs: number;
  /** From asking the workers to pause to their resuming: how long the workers (and the REPL's writes) wait. */
  pauseWindowMs: number;
  stateMs: Record<string, number>;
  /** cp + fsync time / copying time (clone or copy + fsync + source hash + progress): 1.0 means as fast as cp. */
  copyRatioToCp: number;
  /** Main-thread event-loop delay while the copy runs, and while the audit runs (workers back at work). */
  loopP99Ms: number;
  loopMaxMs: number;
  auditLoopP99Ms: number;
  auditLoopMaxMs: number;
  /** The same figure over 2 s just before each backup, the workers busy: what this machine's load alone costs. */
  baselineLoopP99Ms: number;
  rssGrowthMiB: number;
  seedLoopMs: number | undefined;
  onlineCopyMs: number | undefined;
  cliBackupMs: number;
  cliRatioToCp: number;
  /** The pause window of the `nu-agent backup` command, from its --json stateDurations. */
  cliPauseWindowMs: number;
  /** The time in each state of that command (its --json stateDurations): where the whole command's time goes. */
  cliStateMs: Record<string, number>;
}

/** The states between asking the workers to pause and their resuming (whichever a run passes). */
export const PAUSED_STATES = [
  'pausing',
  'holding',
  'checkpointing',
  'closing',
  'copying',
  'verifying',
  'discarding',
  'reopening',
  'checking',
  'resuming',
];

const silent: Output = { line() {}, error() {}, debug() {}, isTTY: false };
const cliPath = fileURLToPath(new URL('../src/cli.js', import.meta.url));

type Watched = ReturnType<ReturnType<typeof startWatch>['stop']>;
const notWatched = { loopP50Ms: NaN, loopP99Ms: NaN, loopMaxMs: NaN, rssGrowthMiB: NaN };

export async function benchSize(options: SizeOptions): Promise<SizeReport> {
  const home = path.join(options.dir, `home-${options.sizeMiB}-${options.content}`);
  fs.rmSync(home, { recursive: true, force: true });
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const db = path.join(home, 'memory.db');
  // A real copy (never a clone) so the database owns its blocks, as a database that grew there would.
  await copyBytes(options.sourceDb, db);
  const env = { ...process.env, NUAGENT_HOME: home, NUAGENT_LLM_URL: '', NUAGENT_EMBEDDINGS_URL: '' };

  const app = await createApp({ env, makeOutput: () => silent });
  const runs: {
    cp: number;
    total: number;
    paused: number;
    copy: string;
    states: Record<string, number>;
    watch: Watched;
    audit: Watched;
    baseline: Watched;
  }[] = [];
  try {
    await makeWorkersBusy(app.store);
    app.workerAdmin.startAll();
    for (let rep = 0; rep < options.reps; rep++) {
      const destination = path.join(options.dir, `backup-${options.sizeMiB}-${rep}.db`);
      const cp = await timeCpWithFsync(db, path.join(options.dir, 'cp-target.db'));
      const idle = startWatch();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const baseline = idle.stop();
      // The event loop is watched while the copy runs (the REPL draws progress) and while the audit runs (the
      // workers are back at work and the REPL live); RSS over the whole backup.
      const rss = startWatch();
      let watch: ReturnType<typeof startWatch> | undefined;
      let copyLoop: Watched = notWatched;
      let auditLoop: Watched = notWatched;
      let pausedAt = NaN;
      let resumedAt = NaN;
      const start = performance.now();
      const outcome = await app.backups.run({
        destination,
        trigger: 'cli',
        onEvent: (event) => {
          if (event.type !== 'transition') return;
          if (event.to === 'pausing') pausedAt = performance.now();
          if (event.from === 'resuming') resumedAt = performance.now();
          if (event.from === 'copying' && watch) copyLoop = watch.stop();
          if (event.from === 'auditing' && watch) auditLoop = watch.stop();
          if (event.to === 'copying' || event.to === 'auditing') watch = startWatch();
        },
      });
      const total = performance.now() - start;
      const watched = { ...rss.stop(), ...copyLoop };
      if (!outcome.ok) throw outcome.error;
      runs.push({
        cp,
        total,
        paused: resumedAt - pausedAt,
        copy: outcome.copy,
        states: outcome.stateDurations,
        watch: watched,
        audit: auditLoop,
        baseline,
      });
      fs.rmSync(destination, { force: true });
      fs.rmSync(outcome.manifestPath, { force: true });
      options.log(
        `  rep ${rep + 1}: backup ${total.toFixed(0)} ms (workers paused ${(resumedAt - pausedAt).toFixed(0)} ms, ${outcome.copy}), cp+fsync ${cp.toFixed(0)} ms`,
      );
    }
  } finally {
    await app.shutdown();
  }

  const fileBytes = fs.statSync(db).size;
  const states = medianStates(runs.map((r) => r.states));
  const copyMs = states.copying ?? NaN;
  const sum = (names: string[]) => names.reduce((total, name) => total + (states[name] ?? 0), 0);
  const cpFsyncMs = median(runs.map((r) => r.cp));

  const scratch = path.join(options.dir, 'reference-copy.db');
  const seedLoopMs = options.seedLoop ? await timeSeedLoopCopy(db, scratch) : undefined;
  const onlineCopyMs = options.online ? await timeOnlineCopy(db, scratch) : undefined;
  const cli = await timeCliBackup(env, path.join(options.dir, `cli-backup-${options.sizeMiB}.db`));
  options.log(
    `  nu-agent backup: ${cli.ms.toFixed(0)} ms (workers paused ${cli.pauseWindowMs.toFixed(0)} ms, ${cli.copy})`,
  );
  fs.rmSync(home, { recursive: true, force: true });

  return {
    sizeMiB: options.sizeMiB,
    content: options.content,
    fileSystem: options.fileSystem,
    fileBytes,
    cpFsyncMs,
    backupMs: median(runs.map((r) => r.total)),
    copyMs,
    copy: [...new Set(runs.map((r) => r.copy))].join('/'),
    verifyMs: states.verifying ?? NaN,
    auditMs: states.auditing ?? NaN,
    overheadMs: sum(['validating', 'pausing', 'checkpointing', 'reopening', 'resuming']),
    pauseWindowMs: median(runs.map((r) => r.paused)),
    stateMs: states,
    copyRatioToCp: cpFsyncMs / copyMs,
    loopP99Ms: Math.max(...runs.map((r) => r.watch.loopP99Ms)),
    loopMaxMs: Math.max(...runs.map((r) => r.watch.loopMaxMs)),
    auditLoopP99Ms: Math.max(...runs.map((r) => r.audit.loopP99Ms)),
    auditLoopMaxMs: Math.max(...runs.map((r) => r.audit.loopMaxMs)),
    baselineLoopP99Ms: Math.max(...runs.map((r) => r.baseline.loopP99Ms)),
    rssGrowthMiB: Math.max(...runs.map((r) => r.watch.rssGrowthMiB)),
    seedLoopMs,
    onlineCopyMs,
    cliBackupMs: cli.ms,
    cliRatioToCp: cli.ms / cpFsyncMs,
    cliPauseWindowMs: cli.pauseWindowMs,
    cliStateMs: cli.stateMs,
  };
}

async function copyBytes(from: string, to: string): Promise<void> {
  fs.rmSync(to, { force: true });
  await fs.promises.copyFile(from, to); // no FICLONE flag: a byte copy everywhere
  fsyncFile(to); // on disk, as a checkpointed database is: a clone must not wait for this copy's writeback
}

/** Unsummarised conversations and exchanges, so the three workers have work during every backup. */
async function makeWorkersBusy(store: MemoryStore): Promise<void> {
  await store.run(
    `INSERT INTO conversations (id, title, status)
     SELECT 10000000 + i, 'pending ' || i, 'closed' FROM range(1, 201) t(i)`,
  );
  await store.run(
    `INSERT INTO exchanges (id, conversation_id, exchange_number, status, completed_at, user_message, assistant_message)
     SELECT 10000000 + i, 10000000 + 1 + (i % 200), i % 10, 'completed', now(),
            'question number ' || i || ' about backups and memory',
            repeat('a long answer about checkpoints, write-ahead logs and verified copies. ', 20)
       FROM range(1, 5001) t(i)`,
  );
}

/** The whole `nu-agent backup` command, from process start to exit, including the audit. */
async function timeCliBackup(
  env: NodeJS.ProcessEnv,
  destination: string,
): Promise<{ ms: number; pauseWindowMs: number; copy: string; stateMs: Record<string, number> }> {
  const start = performance.now();
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, 'backup', destination, '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`nu-agent backup exited ${code}: ${stderr}`)),
    );
  });
  const ms = performance.now() - start;
  const json = JSON.parse(stdout) as { copy: string; stateDurations: Record<string, number> };
  const pauseWindowMs = PAUSED_STATES.reduce((total, name) => total + (json.stateDurations[name] ?? 0), 0);
  fs.rmSync(destination, { force: true });
  fs.rmSync(destination + '.manifest.json', { force: true });
  return { ms, pauseWindowMs, copy: json.copy, stateMs: json.stateDurations };
}

function medianStates(all: Record<string, number>[]): Record<string, number> {
  const names = new Set(all.flatMap((s) => Object.keys(s)));
  return Object.fromEntries([...names].map((n) => [n, median(all.map((s) => s[n] ?? 0))]));
}
