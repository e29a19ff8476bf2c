import fs from 'node:fs';
import path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoBackup } from '../src/auto-backup/auto-backup.js';
import { appConfigStore } from '../src/auto-backup/config-store.js';
import { lazyOffsitePort } from '../src/auto-backup/offsite-port.js';
import { buildStatus, formatStatus, statusJson } from '../src/auto-backup/status.js';
import { resolveDataPaths } from '../src/paths.js';
import { FakeBackupService, success } from './helpers/fake-backup-service.js';
import { addConversations, handMadeBackup } from './helpers/hand-made-backup.js';
import { openStore } from './helpers/open-store.js';
import { startReceiver } from './helpers/http-receiver.js';
import type { Receiver } from './helpers/http-receiver.js';
import { collect, runCli, startCli, waitForOutput, withoutWaitLines } from './helpers/run-cli.js';
import { startS3Server } from './helpers/s3-server.js';
import type { S3Server } from './helpers/s3-server.js';
import { tempDir } from './helpers/temp-dir.js';
import { until } from './helpers/until.js';

// What an automatic backup's upload to the `remote` place leaves behind for status, --json and monitoring, end to
// end: the compiled CLI (run `npm run build` first) against a real S3-compatible server on 127.0.0.1 and a real
// HTTP receiver for the notifications. Every failure has a real cause: a bucket that does not exist, a server
// that stops answering, a process killed during its upload.

const UUID = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
const DAY = 24 * 3600 * 1000;
// Status shows times in the local zone; this file reads them in UTC wherever it runs.
process.env.TZ = 'UTC';

const line = (lines: string[], label: string) => lines.find((l) => l.trimStart().startsWith(`${label}:`))?.trim();

interface Setup {
  server: S3Server;
  dir: string;
  db: string;
  env: Record<string, string>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(): Promise<Setup> {
  const server = await startS3Server();
  const dir = tempDir('nuagent-offsite-status-');
  const db = path.join(dir, 'memory.db');
  await addConversations(db, 3);
  const identity = await generateX25519Identity();
  fs.writeFileSync(path.join(dir, 'recipients.txt'), `${await identityToRecipient(identity)}\n`);
  const env = {
    ...server.env,
    NUAGENT_HOME: path.join(dir, 'home'),
    NUAGENT_BACKUP_RECIPIENTS: path.join(dir, 'recipients.txt'),
    TZ: 'UTC',
  };
  return { server, dir, db, env };
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

const cli = (s: Setup, args: string[]) => runCli(['--database', s.db, ...args], '', { env: s.env, cwd: s.dir });

async function statusOf(s: Setup) {
  const text = await cli(s, ['auto-backup', 'status']);
  expect(text.code).toBe(0);
  const json = await cli(s, ['auto-backup', 'status', '--json']);
  expect(json.code).toBe(0);
  const lines = text.stdout.split('\n');
  const row = (label: string) => lines.find((l) => l.trimStart().startsWith(`${label}:`))?.trim();
  return { lines, row, json: JSON.parse(json.stdout) as Record<string, unknown> };
}

async function set(s: Setup, ...words: string[]) {
  const done = await cli(s, ['auto-backup', ...words]);
  expect(withoutWaitLines(done.stderr)).toBe('');
  expect(done.code).toBe(0);
}

describe('the outcome of an automatic upload, after the process that made it has exited', () => {
  it(
    'a bucket that does not exist: status, --json and the ping and webhook say the upload FAILED; the next good upload clears it',
    { timeout: 240_000 },
    async () => {
      const s = await setUp();
      const r = await receiver();
      await set(s, 'notify', 'ping', `${r.url}/ping/${UUID}`);
      await set(s, 'notify', 'webhook', `${r.url}/hook`);
      await set(s, 'remote', 's3://no-such-bucket/auto');

      const run = await cli(s, ['auto-backup', 'run']);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/Automatic backup created: /);
      expect(withoutWaitLines(run.stderr)).toMatch(
        /^Error: the bucket of s3:\/\/no-such-bucket\/auto\/.* does not exist/,
      );

      // Monitoring hears that the job was not done: the failure URL, and a webhook that says what happened.
      const fail = r.received.find((q) => q.path === `/ping/${UUID}/fail`);
      expect(fail?.body).toMatch(/: backup ok locally; offsite upload FAILED: the bucket of s3:\/\/no-such-bucket\//);
      expect(fail?.body).toMatch(/\nTry: Create the bucket first/);
      expect(r.received.some((q) => q.path === `/ping/${UUID}`)).toBe(false);
      const hook = JSON.parse(r.received.find((q) => q.path === '/hook')!.body) as Record<string, unknown>;
      expect(hook).toMatchObject({ event: 'backup', ok: false, status: 'offsite-failed', remote: null });
      expect(hook.remoteError).toMatch(/^the bucket of s3:\/\/no-such-bucket\/auto\/.* does not exist$/);
      expect(hook.path).toMatch(/memory-.*\.db$/);

      const failed = await statusOf(s);
      expect(failed.lines).toContain(
        `  WARNING: the last offsite upload to s3://no-such-bucket/auto/ failed: ${hook.remoteError as string}`,
      );
      expect(failed.row('Last run')).toMatch(/, success$/);
      expect(failed.row('Last upload')).toMatch(/^Last upload:\s+\d{4}-.* ago\), FAILED: the bucket of /);
      expect(failed.row('Last upload ok')).toMatch(/^Last upload ok:\s+never$/);
      expect(failed.json.remoteUpload).toMatchObject({
        status: 'failed',
        place: 's3://no-such-bucket/auto/',
        url: null,
        error: hook.remoteError,
        lastSentAt: null,
      });
      const { startedAt, endedAt } = failed.json.remoteUpload as { startedAt: string; endedAt: string };
      expect(Date.parse(endedAt)).toBeGreaterThanOrEqual(Date.parse(startedAt));

      await set(s, 'remote', 's3://bucket/auto');
      const good = await cli(s, ['auto-backup', 'run']);
      expect(withoutWaitLines(good.stderr)).toBe('');
      expect(good.code).toBe(0);
      const sent = await statusOf(s);
      expect(sent.lines.filter((l) => l.includes('WARNING'))).toEqual([]);
      const upload = sent.json.remoteUpload as Record<string, string>;
      expect(upload).toMatchObject({ status: 'sent', place: 's3://bucket/auto/', error: null });
      expect(upload.url).toMatch(/^s3:\/\/bucket\/auto\/memory-.*\.db$/);
      expect(upload.objectKey).toMatch(/^auto\/memory-.*\.db\.age$/);
      expect(s.server.keys('bucket')).toContain(upload.objectKey);
      expect(upload.lastSentAt).toBe(upload.endedAt);
      expect(upload.lastSentUrl).toBe(upload.url);
      expect(sent.row('Last upload')).toContain(`, sent: ${upload.url}`);
      expect(sent.row('Last upload ok')).toMatch(/^Last upload ok:\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+00:00 \(/);

      // The run is known by its backup's snapshot time, the one its manifest carries.
      const backup = sent.json.lastBackupPath as string;
      const manifest = JSON.parse(fs.readFileSync(`${backup}.manifest.json`, 'utf8')) as { snapshotAt: string };
      expect(sent.json.lastRunAt).toBe(manifest.snapshotAt);
      expect(sent.json.lastSuccessAt).toBe(manifest.snapshotAt);

      // The CLI waited for its notifications before it exited.
      const hooks = r.received
        .filter((q) => q.path === '/hook')
        .map((q) => JSON.parse(q.body) as Record<string, unknown>);
      expect(hooks).toHaveLength(2);
      expect(hooks[1]).toMatchObject({ ok: true, status: 'success', remote: upload.url, remoteError: null });
      expect(r.received.filter((q) => q.path === `/ping/${UUID}`)).toHaveLength(1);
    },
  );

  it(
    'killed during the upload: status says when it started and that it never finished, and what to do',
    { timeout: 240_000 },
    async () => {
      const s = await setUp();
      await set(s, 'remote', 's3://bucket/auto');
      // A server that stops answering: the upload waits on it, and the process is killed meanwhile.
      s.server.pause();
      const child = startCli(['--database', s.db, 'auto-backup', 'run'], { env: s.env, cwd: s.dir });
      const finished = collect(child);
      await waitForOutput(child, 'Sending the backup offsite to s3://bucket/auto/');
      child.kill('SIGKILL');
      await finished;
      s.server.resume();

      const after = await statusOf(s);
      const upload = after.json.remoteUpload as Record<string, string | null>;
      expect(upload).toMatchObject({ status: 'interrupted', place: 's3://bucket/auto/', endedAt: null, url: null });
      const started = upload.startedAt!.replace('T', ' ').replace(/\.\d+Z$/, ' +00:00');
      expect(after.lines).toContain(
        `  WARNING: the offsite upload to s3://bucket/auto/ started ${started} never finished (nu-agent stopped ` +
          'during it); run /backup auto run (or nu-agent auto-backup run) to send a new backup',
      );
      expect(after.row('Last upload')).toContain(`started ${started} (`);
      expect(after.row('Last upload')).toMatch(/, never finished \(nu-agent stopped during the upload\)$/);
      // The local backup was made and recorded before the upload began.
      expect(after.json.lastStatus).toBe('success');

      // A REPL started afterwards says so before its first prompt.
      const repl = await runCli(['--database', s.db], '/exit\n', { env: s.env, cwd: s.dir });
      expect(repl.stdout).toContain(
        `Notice: The upload of the last automatic backup to s3://bucket/auto/ (started ${started}) never finished: ` +
          'nu-agent stopped during it. See /backup auto status.',
      );
      expect(repl.code).toBe(0);

      const again = await cli(s, ['auto-backup', 'run']);
      expect(withoutWaitLines(again.stderr)).toBe('');
      expect(again.code).toBe(0);
      expect(((await statusOf(s)).json.remoteUpload as Record<string, unknown>).status).toBe('sent');
    },
  );
});

/** An AutoBackup in this process with the real upload to a real S3 server; the backups themselves are made by hand. */
async function inProcess() {
  const server = await startS3Server();
  const keys = tempDir('nuagent-offsite-keys-');
  fs.writeFileSync(path.join(keys, 'recipients.txt'), `${await identityToRecipient(await generateX25519Identity())}\n`);
  // The S3 client and the encryption read the environment a user would set (this test's thread only).
  const saved = { ...process.env };
  Object.assign(process.env, server.env, { NUAGENT_BACKUP_RECIPIENTS: path.join(keys, 'recipients.txt') });
  cleanups.push(async () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  const paths = resolveDataPaths({ NUAGENT_HOME: tempDir('nuagent-offsite-home-') });
  const store = await openStore(paths.database, { createParentDir: true });
  const source = path.join(keys, 'source.db');
  await addConversations(source, 2);
  const clock = { now: new Date('2025-06-01T02:00:00Z') };
  const backups = new FakeBackupService(() => clock.now);
  // Real backup files (a copy and its manifest), so the real upload has something to send.
  backups.behaviour = async (request) => {
    const name = `memory-${clock.now.toISOString().slice(0, 10)}-020000.db`;
    await handMadeBackup(source, path.join(request.directory!, name), clock.now);
    return success(request, name);
  };
  const auto = new AutoBackup({
    config: appConfigStore(store),
    backups,
    paths,
    offsite: lazyOffsitePort,
    now: () => clock.now,
  });
  cleanups.push(async () => {
    await auto.shutdown();
    await store.close();
  });
  await auto.set('timeZone', 'UTC');
  await auto.set('enabled', 'true');
  await auto.set('remote', 's3://bucket/auto');
  const status = async () => buildStatus(auto, { kind: 'here', pid: 4242, active: true });

  return { server, auto, clock, status };
}

describe("the remote's dead man's switch", () => {
  it(
    'a remote with no successful upload for twice the schedule’s gap is called out while local backups go on',
    { timeout: 240_000 },
    async () => {
      const { server, auto, clock, status } = await inProcess();
      const first = await auto.run({ trigger: 'auto' });
      expect(first).toMatchObject({ status: 'success', remote: { url: expect.stringMatching(/^s3:\/\/bucket\//) } });
      // The server goes away for good; the local backups go on every day.
      await server.kill();
      for (let day = 1; day <= 3; day++) {
        clock.now = new Date(Date.parse('2025-06-01T02:00:00Z') + day * DAY);
        const run = await auto.run({ trigger: 'auto' });
        expect(run.status).toBe('success');
        expect(run.status === 'success' && run.remoteError).toBeInstanceOf(Error);
      }
      clock.now = new Date(Date.parse('2025-06-04T02:00:00Z') + 3600 * 1000);
      const report = await status();
      const warnings = formatStatus(report).filter((l) => l.includes('WARNING'));
      expect(warnings).toContain(
        '  WARNING: no successful offsite upload to s3://bucket/auto/ for 3 d 1 h; the schedule expects one every 1 d',
      );
      expect(
        warnings.some((w) => w.startsWith('  WARNING: the last offsite upload to s3://bucket/auto/ failed: ')),
      ).toBe(true);
      expect(warnings.some((w) => w.includes('no successful automatic backup'))).toBe(false);
      expect(line(formatStatus(report), 'Last upload ok')).toMatch(/ 2025-06-01 02:00:00 \+00:00 \(3 d 1 h ago\)$/);
      expect(statusJson(report).remoteUpload).toMatchObject({
        status: 'failed',
        lastSentAt: '2025-06-01T02:00:00.000Z',
        overdue: { sinceMs: 3 * DAY + 3600 * 1000, expectedEveryMs: DAY },
      });

      // Turned off, the remote is no longer expected to get backups: no warning about it, its history in --json.
      await auto.set('remote', 'off');
      const off = await status();
      expect(off.remoteOverdue).toBeUndefined();
      expect(formatStatus(off).filter((l) => l.includes('upload'))).toEqual([]);
      expect(statusJson(off).remoteUpload).toMatchObject({ status: 'failed', lastSentAt: '2025-06-01T02:00:00.000Z' });
    },
  );
});

describe('an upload under way', () => {
  it(
    'is in progress while this process uploads, not "never finished"; cancelled, it is recorded as failed',
    { timeout: 240_000 },
    async () => {
      const { server, auto, status } = await inProcess();
      server.pause();
      const stop = new AbortController();
      const run = auto.run({ trigger: 'auto', signal: stop.signal });
      await until(async () => (await status()).remote === 'sending');
      const during = formatStatus(await status());
      expect(line(during, 'Last upload')).toMatch(
        /^Last upload:\s+started 2025-06-01 02:00:00 \+00:00 \(.*\), in progress$/,
      );
      expect(during.filter((l) => l.includes('upload'))).toHaveLength(2);
      expect(during.some((l) => l.includes('WARNING'))).toBe(false);

      stop.abort();
      const result = await run;
      server.resume();
      expect(result.status === 'success' && result.remoteError).toBeInstanceOf(Error);
      const after = await status();
      expect(after.remote).toBe('failed');
      expect(statusJson(after).remoteUpload).toMatchObject({ status: 'failed', lastSentAt: null });
    },
  );
});
