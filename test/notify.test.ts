import { afterEach, describe, expect, it } from 'vitest';
import { AutoBackup } from '../src/auto-backup/auto-backup.js';
import { runAutoCommand } from '../src/auto-backup/commands.js';
import { appConfigStore } from '../src/auto-backup/config-store.js';
import type { RetentionPort } from '../src/auto-backup/retention-port.js';
import { buildStatus, formatStatus, statusJson } from '../src/auto-backup/status.js';
import { NuError } from '../src/errors.js';
import type { DeliveryPolicy } from '../src/notify/deliver.js';
import { maskSecrets, maskUrl, parseNotifyUrl, pingUrl } from '../src/notify/url.js';
import { resolveDataPaths } from '../src/paths.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { FakeBackupService, failure, success } from './helpers/fake-backup-service.js';
import { deadUrl, startReceiver } from './helpers/http-receiver.js';
import type { Receiver } from './helpers/http-receiver.js';
import { tempDir } from './helpers/temp-dir.js';

const HERE = { kind: 'here', pid: 4242, active: true } as const;
const UUID = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
/** Generous per attempt (the machine is shared); the slow-service test shortens it. */
const PATIENT: DeliveryPolicy = { timeoutMs: 10_000, attempts: 3, backoffMs: [10, 10] };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const noRetention: RetentionPort = {
  summary: async () => ({ count: 0, totalBytes: 0 }),
  plan: async () => [],
  apply: async () => ({ removed: [], failed: [] }),
};

async function setup(policy: DeliveryPolicy = PATIENT) {
  const paths = resolveDataPaths({ NUAGENT_HOME: tempDir() });
  const store = await MemoryStore.open(paths.database, { createParentDir: true });
  const backups = new FakeBackupService();
  const auto = new AutoBackup({
    config: appConfigStore(store),
    backups,
    paths,
    retention: noRetention,
    now: () => new Date('2025-06-01T02:00:00Z'),
    notifyPolicy: policy,
  });
  cleanups.push(async () => {
    await auto.shutdown();
    await store.close();
  });
  await auto.set('timeZone', 'UTC');
  const status = async () => buildStatus(auto, HERE);
  const command = (args: string[]) => runAutoCommand(args, { auto, scheduler: HERE, cwd: '/', trigger: 'external' });
  return { auto, backups, status, command };
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

describe('notifications', () => {
  it('pings <url>/start, then <url> with a short text after a success, and posts the result as JSON', async () => {
    const r = await receiver();
    const { auto, backups, status } = await setup();
    await auto.set('notifyPing', `${r.url}/ping/${UUID}`);
    await auto.set('notifyWebhook', `${r.url}/hook/T0123/B0456/verysecrettoken`);
    backups.behaviour = async (request) => ({ ...success(request, 'memory-1.db'), stateDurations: { copying: 12 } });
    const result = await auto.run({ trigger: 'auto' });
    expect(result.status).toBe('success');
    await auto.notifier.idle();

    const start = r.received.find((q) => q.path === `/ping/${UUID}/start`);
    expect(start?.method).toBe('GET');
    const done = r.received.find((q) => q.path === `/ping/${UUID}`);
    expect(done?.method).toBe('POST');
    expect(done?.body).toMatch(/backup ok: .*memory-1\.db \(4\.0 KiB, 5 ms\)/);
    const hook = r.received.find((q) => q.path.startsWith('/hook/'));
    expect(hook?.contentType).toBe('application/json');
    expect(JSON.parse(hook!.body)).toMatchObject({
      source: 'nu-agent',
      event: 'backup',
      ok: true,
      status: 'success',
      trigger: 'auto',
      sizeBytes: 4096,
      durationMs: 5,
      stateDurations: { copying: 12 },
      error: null,
    });
    expect(r.received.some((q) => q.path.endsWith('/fail'))).toBe(false);

    const report = await status();
    const lines = formatStatus(report);
    expect(lines.filter((l) => l.includes('WARNING'))).toEqual([]);
    const notify = lines.find((l) => l.trim().startsWith('Notify:'))!;
    expect(notify).toMatch(
      /ping http:\/\/127\.0\.0\.1:\d+\/ping\/3fa…, webhook .*\/hook\/T0123\/B0456\/ver…; last sent .*, delivered/,
    );
    expect(JSON.stringify(statusJson(report))).not.toContain(UUID);
    expect(JSON.stringify(statusJson(report))).not.toContain('verysecrettoken');
  });

  it('pings <url>/fail with the error and its Try text when the backup failed', async () => {
    const r = await receiver();
    const { auto, backups } = await setup();
    await auto.set('notifyPing', `${r.url}/${UUID}`);
    await auto.set('notifyWebhook', `${r.url}/hook`);
    backups.behaviour = async () => ({
      ...failure(),
      error: new NuError('not enough free space in /backups', { code: 'NO_SPACE', hint: 'Free some space.' }),
    });
    expect((await auto.run({ trigger: 'auto' })).status).toBe('failed');
    await auto.notifier.idle();
    const fail = r.received.find((q) => q.path === `/${UUID}/fail`);
    expect(fail?.body).toMatch(
      /backup FAILED: not enough free space[\s\S]*Error: not enough free space[\s\S]*Try: Free some space\./,
    );
    const hook = JSON.parse(r.received.find((q) => q.path === '/hook')!.body) as Record<string, unknown>;
    expect(hook).toMatchObject({
      ok: false,
      status: 'failed',
      error: 'not enough free space in /backups',
      hint: 'Free some space.',
    });
  });

  it('a service that is down: the backup still succeeds and status shows the failed delivery, URL masked', async () => {
    const url = `${await deadUrl()}/${UUID}`;
    const { auto, status } = await setup();
    await auto.set('notifyPing', url);
    expect((await auto.run({ trigger: 'auto' })).status).toBe('success');
    await auto.notifier.idle();
    const report = await status();
    expect(report.state.notifyLastFailure).toMatch(
      /ping http:\/\/127\.0\.0\.1:\d+\/3fa…(\/start)?: ECONNREFUSED \(3 attempts\)/,
    );
    expect(report.state.notifyLastFailure).not.toContain(UUID);
    const lines = formatStatus(report);
    expect(lines.some((l) => /WARNING: a notification could not be delivered/.test(l))).toBe(true);
    expect(report.state.lastStatus).toBe('success');
  });

  it('retries a 500 and reports it; a 404 is not retried', async () => {
    const r = await receiver();
    r.status = 500;
    const { auto, status, command } = await setup();
    await auto.set('notifyWebhook', `${r.url}/hook`);
    const result = await command(['notify', 'test']);
    expect(result.exitCode).toBe(1);
    expect(result.lines).toEqual([
      expect.stringMatching(/^webhook http:\/\/127\.0\.0\.1:\d+\/hook: NOT delivered: HTTP 500 \(3 attempts\)$/),
    ]);
    expect(result.error?.message).toMatch(/the test notification was not delivered: webhook: HTTP 500/);
    expect(r.received).toHaveLength(3);
    expect((await status()).state.notifyLastFailure).toMatch(/HTTP 500/);

    r.status = 404;
    r.received.length = 0;
    await command(['notify', 'test']);
    expect(r.received).toHaveLength(1);

    r.status = 200;
    const ok = await command(['notify', 'test']);
    expect(ok.exitCode).toBe(0);
    expect(ok.lines[0]).toMatch(/webhook .*: delivered \(HTTP 200\)/);
    expect(JSON.parse(r.received.at(-1)!.body)).toMatchObject({ event: 'test', ok: true });
    // A delivery that worked clears the warning.
    expect((await status()).state.notifyLastFailure).toBeUndefined();
  });

  it('a slow service never delays the backup: the run has returned before any answer, the timeout ends the wait', async () => {
    const r = await receiver();
    r.holding = true;
    const { auto, status } = await setup({ timeoutMs: 200, attempts: 2, backoffMs: [10] });
    await auto.set('notifyPing', `${r.url}/${UUID}`);
    const result = await auto.run({ trigger: 'auto' });
    expect(result.status).toBe('success');
    // Nothing has been answered yet, and nothing was recorded about the delivery: the run did not wait.
    expect((await status()).state.notifyLastAt).toBeUndefined();
    await auto.notifier.idle();
    expect((await status()).state.notifyLastFailure).toMatch(/no answer within 0\.2 s \(2 attempts\)/);
    expect((await status()).state.lastStatus).toBe('success');
  });

  it('notify test without a URL says how to set one; nothing is sent by default', async () => {
    const { command, status, auto } = await setup();
    await expect(command(['notify', 'test'])).rejects.toThrow(/no notification URL is set/);
    await auto.run({ trigger: 'auto' });
    await auto.notifier.idle();
    expect((await status()).state.notifyLastAt).toBeUndefined();
    expect(formatStatus(await status()).find((l) => l.trim().startsWith('Notify:'))).toMatch(/off \(nothing is sent\)/);
  });

  it('sets, shows and clears the URLs with `notify ping|webhook`, refusing what is not http(s)', async () => {
    const { command, auto } = await setup();
    const set = await command(['notify', 'ping', `https://hc-ping.com/${UUID}`]);
    expect(set.lines[0]).toBe('Auto-backup notify-ping set to https://hc-ping.com/3fa….');
    expect((await command(['notify'])).lines[0]).toMatch(/Notify ping: +https:\/\/hc-ping\.com\/3fa…$/);
    await expect(command(['notify', 'webhook', 'ftp://example.com/x'])).rejects.toThrow(
      /must be an http:\/\/ or https:\/\/ URL/,
    );
    await command(['notify', 'ping', 'off']);
    expect((await auto.settings()).notifyPing).toBeUndefined();
  });
});

describe('notification URLs', () => {
  it('masks secrets in paths, queries and user info, keeping short words', () => {
    expect(maskUrl(`https://hc-ping.com/${UUID}`)).toBe('https://hc-ping.com/3fa…');
    expect(maskUrl('https://hc-ping.com/abcdefghijklmnopqrstuv/db-backup')).toBe('https://hc-ping.com/abc…/db-…');
    expect(maskUrl('https://kuma.example:3001/api/push/Xy12AbCdEf?status=up&msg=OK')).toBe(
      'https://kuma.example:3001/api/push/Xy1…?status=…&msg=…',
    );
    expect(maskUrl('https://user:pass@example.com/hook')).toBe('https://***@example.com/hook');
    expect(maskSecrets(`connect to https://hc-ping.com/${UUID}/fail failed`)).toBe(
      'connect to https://hc-ping.com/3fa…/fail failed',
    );
  });

  it('appends /start and /fail to the path, keeping a query string at the end', () => {
    expect(pingUrl(`https://hc-ping.com/${UUID}`, 'start')).toBe(`https://hc-ping.com/${UUID}/start`);
    expect(pingUrl('https://kuma.example/api/push/tok?status=up', 'fail')).toBe(
      'https://kuma.example/api/push/tok/fail?status=up',
    );
  });

  it('accepts http(s) only and treats off/none as not set', () => {
    expect(parseNotifyUrl('notify-ping', 'off')).toBeUndefined();
    expect(parseNotifyUrl('notify-ping', 'https://example.com/x#frag')).toBe('https://example.com/x');
    expect(() => parseNotifyUrl('notify-ping', 'not a url at all 3fa85f64-5717')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => parseNotifyUrl('notify-ping', `file:///etc/${UUID}`)).toThrow(/not file:\/\/\/etc\/3fa…/);
  });
});
