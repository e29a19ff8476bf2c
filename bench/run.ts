import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { benchSize } from './backup-bench.js';
import type { SizeReport } from './backup-bench.js';
import { benchBackupCopy } from './backup-copy.js';
import type { CopyBenchReport } from './backup-copy.js';
import { benchPauseLatency } from './pause-latency.js';
import { benchRemote, printRemoteReport } from './remote-bench.js';
import type { PauseLatencyFigures } from './pause-latency.js';

// `npm run bench`: backup speed, pause window, responsiveness and memory, each measured against `cp` + fsync of
// the same file in the same run, and printed as a table plus a JSON report. Defaults finish in a few minutes on
// 2 cores; `--sizes 16,256,1024,4096` for bigger files.

const TARGETS = {
  copyRatioToCp: 0.9,
  overheadMedianMs: 150,
  cliRatioToCp: 3,
  pauseP99Ms: 50,
  loopP99Ms: 10,
  rssGrowthMiB: 64,
};

const program = new Command('bench')
  .description('Measure nu-agent backups against cp + fsync on this machine')
  .option('--sizes <MiB,...>', 'database sizes in MiB', '16,256,1024')
  .option('--reps <n>', 'backups per size', '3')
  .option('--pauses <n>', 'pause requests for the pause-latency figure', '100')
  .option('--seed-loop-max <MiB>', 'run the seed plan 8 KiB loop up to this size', '256')
  .option('--no-online', 'skip the online COPY FROM DATABASE comparison')
  .option('--out <file>', 'JSON report', 'bench-report.json')
  .option('--dir <dir>', 'scratch directory (default: a new one under the OS temp dir)')
  .option('--remote [MiB]', 'only offsite uploads, against a local S3 server (default 128 MiB)');

async function main(): Promise<void> {
  program.parse();
  const o = program.opts<{
    sizes: string;
    reps: string;
    pauses: string;
    seedLoopMax: string;
    online: boolean;
    out: string;
    dir?: string;
    remote?: string | boolean;
  }>();
  if (o.remote !== undefined) return benchOffsite(o.remote === true ? 128 : Number(o.remote), o);
  const sizes = o.sizes
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
  const reps = Math.max(1, Number(o.reps));
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-bench-'));
  const log = (line: string) => console.log(line);
  log(`nu-agent bench: sizes ${sizes.join(', ')} MiB, ${reps} backups each, scratch ${dir}`);
  log(`machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);

  const sizeReports: SizeReport[] = [];
  const copyReports: CopyBenchReport[] = [];
  const pauseReports: PauseLatencyFigures[] = [];
  try {
    for (const sizeMiB of sizes) {
      log(`\n${sizeMiB} MiB`);
      sizeReports.push(
        await benchSize({ sizeMiB, reps, dir, seedLoop: sizeMiB <= Number(o.seedLoopMax), online: o.online, log }),
      );
    }
    log(`\npause latency, ${Number(o.pauses)} pauses per kind of work, all three workers busy`);
    pauseReports.push(...(await benchPauseLatency({ pauses: Number(o.pauses), dir, log })));
    const largest = Math.max(...sizes);
    log(`\ncopy engine alone, ${largest} MiB file`);
    copyReports.push(await benchBackupCopy({ sizeMiB: largest, reps, dir, log }));
  } finally {
    if (!o.dir) fs.rmSync(dir, { recursive: true, force: true });
  }

  const report = {
    createdAt: new Date().toISOString(),
    machine: {
      cores: os.cpus().length,
      memoryGiB: os.totalmem() / 2 ** 30,
      node: process.version,
      platform: process.platform,
    },
    targets: TARGETS,
    sizes: sizeReports,
    copyEngine: copyReports,
    pauseLatency: pauseReports,
  };
  fs.writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
  printTable(sizeReports, copyReports, pauseReports);
  log(`\nJSON report: ${path.resolve(o.out)}`);
}

function printTable(sizes: SizeReport[], copies: CopyBenchReport[], pauses: PauseLatencyFigures[]): void {
  const f = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));
  const rows = [
    [
      'size MiB',
      'file MiB',
      'cp+fsync ms',
      'transfer ms',
      'ratio to cp',
      'verify ms',
      'overhead ms',
      'paused ms',
      'backup ms',
      'CLI ms',
      'CLI/cp',
      'loop p99 ms',
      'RSS +MiB',
      '8 KiB loop ms',
      'online ms',
      'ms/MiB',
    ],
    ...sizes.map((s) => [
      f(s.sizeMiB),
      f(s.fileBytes / 2 ** 20),
      f(s.cpFsyncMs),
      f(s.transferMs),
      f(s.copyRatioToCp, 2),
      f(s.verifyMs),
      f(s.overheadMs),
      f(s.pauseWindowMs),
      f(s.backupMs),
      f(s.cliBackupMs),
      f(s.cliRatioToCp, 1),
      f(s.loopP99Ms, 1),
      f(s.rssGrowthMiB, 1),
      f(s.seedLoopMs),
      f(s.onlineCopyMs),
      f(s.backupMs / (s.fileBytes / 2 ** 20), 2),
    ]),
  ];
  console.log('\nbackups (medians)');
  printRows(rows);
  if (sizes.length) {
    console.log('\ntime in each supervisor state, ms (median), per size');
    const states = Object.keys(sizes[0]!.stateMs);
    printRows([
      ['state', ...sizes.map((s) => `${s.sizeMiB} MiB`)],
      ...states.map((st) => [st, ...sizes.map((s) => f(s.stateMs[st], 1))]),
    ]);
  }
  for (const c of copies) {
    console.log(
      `\ncopy engine alone (${c.sizeMiB} MiB): engine ${f(c.engineMs)} ms vs cp+fsync ${f(c.cpFsyncMs)} ms → ratio ${f(c.ratioToCp, 2)} (target ≥ ${TARGETS.copyRatioToCp}); ${f(c.engineMiBps)} MiB/s; loop p99 ${f(c.loopP99Ms, 1)} ms`,
    );
  }
  for (const p of pauses) {
    console.log(
      `pause latency (${p.kind} work, ${p.pauses} pauses, ${p.allBusy} with all three busy): p50 ${f(p.p50Ms, 1)} ms, p99 ${f(p.p99Ms, 1)} ms (target < ${TARGETS.pauseP99Ms}), max ${f(p.maxMs, 1)} ms; resume p99 ${f(p.resumeP99Ms, 1)} ms`,
    );
  }
  console.log(
    '\ntargets: ' +
      Object.entries(TARGETS)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
  );
}

function printRows(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
}

/** `--remote`: offsite uploads alone (bench/remote-bench.ts), printed and written as their own report. */
async function benchOffsite(sizeMiB: number, o: { reps: string; out: string; dir?: string }): Promise<void> {
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-bench-'));
  const log = (line: string) => console.log(line);
  log(`nu-agent bench --remote: ${sizeMiB} MiB, ${o.reps} runs, load average ${os.loadavg()[0]!.toFixed(1)}`);
  try {
    const report = await benchRemote({ sizeMiB, reps: Math.max(1, Number(o.reps)), dir, log });
    fs.writeFileSync(o.out, JSON.stringify({ createdAt: new Date().toISOString(), remote: report }, null, 2) + '\n');
    printRemoteReport(report, log);
    log(`load average now ${os.loadavg()[0]!.toFixed(1)}; JSON report: ${path.resolve(o.out)}`);
  } finally {
    if (!o.dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
