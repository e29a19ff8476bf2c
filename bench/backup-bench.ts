import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Output } from '../src/app.js';
import { createApp } from '../src/app/create-app.js';
import type { MemoryStore } from '../src/store/memory-store.js';
import { generateDatabase } from './generate-db.js';
import { median, startWatch, timeCpWithFsync, timeOnlineCopy, timeSeedLoopCopy } from './reference-copies.js';

// One size of the benchmark: a generated memory database, the three workers kept busy, and backups taken
// through the real BackupService, each compared with `cp` + fsync of the same file in the same run.

export interface SizeOptions {
  sizeMiB: number;
  reps: number;
  dir: string;
  /** Run the seed plan's 8 KiB loop too (slow: about 45 s per GiB). */
  seedLoop: boolean;
  online: boolean;
  log: (line: string) => void;
}

export interface SizeReport {
  sizeMiB: number;
  fileBytes: number;
  cpFsyncMs: number;
  backupMs: number;
  transferMs: number;
  verifyMs: number;
  /** The states issue 7 sets a target for together: validating, pausing, checkpointing, reopening, resuming. */
  overheadMs: number;
  /** From asking the workers to pause to their resuming: how long the workers (and the REPL's writes) wait. */
  pauseWindowMs: number;
  stateMs: Record<string, number>;
  /** cp + fsync time / copy-engine time (copy + fsync + hash + progress): 1.0 means as fast as cp. */
  copyRatioToCp: number;
  loopP99Ms: number;
  loopMaxMs: number;
  rssGrowthMiB: number;
  seedLoopMs: number | undefined;
  onlineCopyMs: number | undefined;
  cliBackupMs: number;
  cliRatioToCp: number;
}

const PAUSED_STATES = [
  'pausing',
  'holding',
  'checkpointing',
  'closing',
  'transferring',
  'verifying',
  'committing',
  'discarding',
  'reopening',
  'checking',
  'resuming',
];

const silent: Output = { line() {}, error() {}, debug() {}, isTTY: false };
const cliPath = fileURLToPath(new URL('../src/cli.js', import.meta.url));

export async function benchSize(options: SizeOptions): Promise<SizeReport> {
  const home = path.join(options.dir, `home-${options.sizeMiB}`);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const db = path.join(home, 'memory.db');
  options.log(`  generating ${options.sizeMiB} MiB database…`);
  await generateDatabase(db, options.sizeMiB * 2 ** 20);
  const env = { ...process.env, NUAGENT_HOME: home, NUAGENT_LLM_URL: '', NUAGENT_EMBEDDINGS_URL: '' };

  const app = await createApp({ env, makeOutput: () => silent });
  const runs: {
    cp: number;
    total: number;
    states: Record<string, number>;
    watch: ReturnType<ReturnType<typeof startWatch>['stop']>;
  }[] = [];
  try {
    await makeWorkersBusy(app.store);
    app.workerAdmin.startAll();
    for (let rep = 0; rep < options.reps; rep++) {
      const destination = path.join(options.dir, `backup-${options.sizeMiB}-${rep}.db`);
      const cp = await timeCpWithFsync(db, path.join(options.dir, 'cp-target.db'));
      // The event loop is watched while the copy runs (the REPL must stay responsive while it draws progress);
      // RSS over the whole backup.
      const rss = startWatch();
      let copyWatch: ReturnType<typeof startWatch> | undefined;
      let loop = { loopP50Ms: NaN, loopP99Ms: NaN, loopMaxMs: NaN };
      const start = performance.now();
      const outcome = await app.backups.run({
        destination,
        trigger: 'cli',
        onEvent: (event) => {
          if (event.type !== 'transition') return;
          if (event.to === 'transferring') copyWatch = startWatch();
          if (event.from === 'transferring' && copyWatch) loop = copyWatch.stop();
        },
      });
      const total = performance.now() - start;
      const watched = { ...rss.stop(), ...loop };
      if (!outcome.ok) throw outcome.error;
      runs.push({ cp, total, states: outcome.stateDurations, watch: watched });
      fs.rmSync(destination, { force: true });
      fs.rmSync(outcome.manifestPath, { force: true });
      options.log(`  rep ${rep + 1}: backup ${total.toFixed(0)} ms, cp+fsync ${cp.toFixed(0)} ms`);
    }
  } finally {
    await app.shutdown();
  }

  const fileBytes = fs.statSync(db).size;
  const states = medianStates(runs.map((r) => r.states));
  const transferMs = states.transferring ?? NaN;
  const verifyMs = states.verifying ?? NaN;
  const sum = (names: string[]) => names.reduce((total, name) => total + (states[name] ?? 0), 0);
  const overheadMs = sum(['validating', 'pausing', 'checkpointing', 'reopening', 'resuming']);
  const pauseWindowMs = sum(PAUSED_STATES);
  const cpFsyncMs = median(runs.map((r) => r.cp));

  const scratch = path.join(options.dir, 'reference-copy.db');
  const seedLoopMs = options.seedLoop ? await timeSeedLoopCopy(db, scratch) : undefined;
  const onlineCopyMs = options.online ? await timeOnlineCopy(db, scratch) : undefined;
  const cliBackupMs = await timeCliBackup(env, path.join(options.dir, `cli-backup-${options.sizeMiB}.db`));

  return {
    sizeMiB: options.sizeMiB,
    fileBytes,
    cpFsyncMs,
    backupMs: median(runs.map((r) => r.total)),
    transferMs,
    verifyMs,
    overheadMs,
    pauseWindowMs,
    stateMs: states,
    copyRatioToCp: cpFsyncMs / transferMs,
    loopP99Ms: Math.max(...runs.map((r) => r.watch.loopP99Ms)),
    loopMaxMs: Math.max(...runs.map((r) => r.watch.loopMaxMs)),
    rssGrowthMiB: Math.max(...runs.map((r) => r.watch.rssGrowthMiB)),
    seedLoopMs,
    onlineCopyMs,
    cliBackupMs,
    cliRatioToCp: cliBackupMs / cpFsyncMs,
  };
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

/** The whole `nu-agent backup` command, from process start to exit, including verification. */
async function timeCliBackup(env: NodeJS.ProcessEnv, destination: string): Promise<number> {
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, 'backup', destination, '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`nu-agent backup exited ${code}: ${stderr}`)),
    );
  });
  const ms = performance.now() - start;
  fs.rmSync(destination, { force: true });
  fs.rmSync(destination + '.manifest.json', { force: true });
  return ms;
}

function medianStates(all: Record<string, number>[]): Record<string, number> {
  const names = new Set(all.flatMap((s) => Object.keys(s)));
  return Object.fromEntries([...names].map((n) => [n, median(all.map((s) => s[n] ?? 0))]));
}
