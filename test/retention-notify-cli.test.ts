import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addConversations, handMadeBackup } from './helpers/hand-made-backup.js';
import { startReceiver } from './helpers/http-receiver.js';
import type { Receiver } from './helpers/http-receiver.js';
import { runCli, withoutWaitLines } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// The compiled CLI as cron and scripts run it: restic-style prune with the machine's time zone (TZ), and a
// one-shot `nu-agent auto-backup run` whose notifications arrive before the process exits.

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

describe('nu-agent backup prune with restic rules', { timeout: 180_000 }, () => {
  it('keeps per local day and ISO week, explains each kept backup, and refuses a bad duration', async () => {
    const root = tempDir();
    const source = path.join(root, 'source.db');
    await addConversations(source, 3);
    const dir = path.join(root, 'backups');
    fs.mkdirSync(dir);
    // Monday 2 June 2025 in Berlin: 21:30 UTC on 1 June is already 2 June there (23:30 CEST).
    await handMadeBackup(source, path.join(dir, 'mon-evening.db'), new Date('2025-06-02T18:00:00Z'));
    await handMadeBackup(source, path.join(dir, 'mon-early.db'), new Date('2025-06-01T22:30:00Z'));
    await handMadeBackup(source, path.join(dir, 'sun.db'), new Date('2025-06-01T12:00:00Z'));
    await handMadeBackup(source, path.join(dir, 'old.db'), new Date('2025-05-10T12:00:00Z'));
    const env = { NUAGENT_HOME: path.join(root, 'home'), TZ: 'Europe/Berlin' };

    const run = await runCli(
      // --database: prune takes part only the backups of the database it runs for.
      [
        '--database',
        source,
        'backup',
        'prune',
        '--dir',
        dir,
        '--keep-daily',
        '2',
        '--keep-weekly',
        '2',
        '--dry-run',
        '--json',
      ],
      '',
      { env, cwd: root },
    );
    expect(withoutWaitLines(run.stderr)).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as {
      removed: { name: string }[];
      kept: { name: string; rules: string[] }[];
    };
    // In UTC mon-early would be the newest of 1 June and sun.db would go instead.
    expect(result.removed.map((r) => r.name).sort()).toEqual(['mon-early.db', 'old.db']);
    const rules = Object.fromEntries(result.kept.map((k) => [k.name, k.rules]));
    expect(rules['mon-evening.db']).toEqual(['daily 2025-06-02', 'weekly 2025-W23']);
    expect(rules['sun.db']).toEqual(['daily 2025-06-01', 'weekly 2025-W22']);
    expect(fs.existsSync(path.join(dir, 'mon-early.db'))).toBe(true);

    const bad = await runCli(['--database', source, 'backup', 'prune', '--dir', dir, '--keep-within', '30x'], '', {
      env,
      cwd: root,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Error: --keep-within must be a duration such as 30d, 1y2m or 48h \(got 30x\)\nTry: /);
  });
});

describe('nu-agent auto-backup run from cron with notifications', { timeout: 180_000 }, () => {
  it('delivers /start and the success ping and the webhook before exiting, and status shows them masked', async () => {
    const r = await startReceiver();
    receivers.push(r);
    const root = tempDir();
    const env = { NUAGENT_HOME: path.join(root, 'home') };
    fs.mkdirSync(env.NUAGENT_HOME, { mode: 0o700 });
    const uuid = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
    expect((await runCli(['auto-backup', 'notify', 'ping', `${r.url}/${uuid}`], '', { env })).code).toBe(0);
    expect((await runCli(['auto-backup', 'notify', 'webhook', `${r.url}/hook`], '', { env })).code).toBe(0);

    const run = await runCli(['auto-backup', 'run'], '', { env });
    expect(withoutWaitLines(run.stderr)).toBe('');
    expect(run.code).toBe(0);
    expect(r.received.map((q) => `${q.method} ${q.path}`).sort()).toEqual([
      `GET /${uuid}/start`,
      `POST /${uuid}`,
      'POST /hook',
    ]);
    expect(JSON.parse(r.received.find((q) => q.path === '/hook')!.body)).toMatchObject({
      event: 'backup',
      ok: true,
      trigger: 'external',
    });

    const status = await runCli(['auto-backup', 'status', '--json'], '', { env });
    expect(status.code).toBe(0);
    expect(status.stdout).not.toContain(uuid);
    const json = JSON.parse(status.stdout) as { notify: Record<string, unknown>; lastStatus: string };
    expect(json.lastStatus).toBe('success');
    expect(json.notify).toMatchObject({ ping: expect.stringMatching(/\/3fa…$/), lastFailure: null });
    expect(json.notify.lastAt).toEqual(expect.any(String));
  });
});
