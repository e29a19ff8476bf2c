import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startInPty } from './helpers/pty.js';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// One backup, one time: its name, the success block, `backup list`, `backup verify` and the restore
// question show the same moment, written the same way (local time with its offset; TZ is set so the offset
// is not +00:00); --json gives ISO 8601 in UTC. Sizes read in binary units.

describe('a backup has one time, shown the same way everywhere', { timeout: 60_000 }, () => {
  it('the name, the success block, the list, verify and the restore question agree; JSON is ISO UTC', async () => {
    const root = tempDir();
    const dir = path.join(root, 'backups');
    fs.mkdirSync(dir);
    const options = { env: { NUAGENT_HOME: path.join(root, 'home'), TZ: 'Asia/Kolkata' }, cwd: root };

    const made = await runCli(['backup', `${dir}/`], '', options);
    expect(made.code, made.stderr).toBe(0);
    const shown = /^ {2}Time: (.+)$/m.exec(made.stdout)?.[1];
    expect(shown).toMatch(/^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) \+05:30$/);
    const [, y, mo, d, h, mi, s] = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)/.exec(shown!)!;
    const name = `memory-${y}-${mo}-${d}-${h}${mi}${s}.db`;
    expect(made.stdout).toContain(`  Path: ${path.join(dir, name)}\n`);
    expect(made.stdout).toMatch(/^ {2}Size: \d+\.\d KiB$/m);

    const list = await runCli(['backup', 'list', dir], '', options);
    expect(list.stdout).toMatch(
      new RegExp(`^ {2}${escape(shown!)} +\\d+\\.\\d KiB +verified +${escape(path.join(dir, name))}$`, 'm'),
    );

    const verify = await runCli(['backup', 'verify', path.join(dir, name)], '', options);
    expect(verify.stdout).toContain(`created ${shown} by nu-agent`);
    expect(verify.stdout).toMatch(/^ {2}size +ok +\d+\.\d KiB \(\d+ bytes\)$/m);

    // The restore question asks on a terminal; answering no changes nothing.
    const restore = startInPty(['backup', 'restore', path.join(dir, name)], options);
    await restore.waitFor('[y/N]');
    expect(restore.screen()).toContain(`(created ${shown}`);
    restore.type('n\r');
    await restore.exited;

    const json = await runCli(['backup', 'list', dir, '--json'], '', options);
    const [entry] = (JSON.parse(json.stdout) as { backups: { createdAt: string }[] }).backups;
    const utc = new Date(Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!) - 330 * 60_000);
    expect(entry!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(entry!.createdAt.slice(0, 19)).toBe(utc.toISOString().slice(0, 19));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
