import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// Another local user shares the database's directory (a team folder, sticky like /tmp) and makes
// `<db>.backup-lock` there before nu-agent does. No nu-agent of this user can hold a lock another user made, so
// it is never trusted and never removed: backups refuse at once, saying whose it is and what to do, and the
// memory itself still opens. The tests run as root; "another user" is uid 65534, who makes the lock in a
// process of their own. The compiled CLI (`npm run build` first).

const OTHER = 65534;
const asRoot = process.getuid?.() === 0;
const nameOf = (uid: number) =>
  fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[2] === String(uid))
    ?.split(':')[0];

describe.runIf(asRoot)('a backup lock another user planted beside the database', { timeout: 120_000 }, () => {
  it('is named with its owner at once, never removed, and does not keep the memory from opening', async () => {
    const root = tempDir('nuagent-planted-');
    fs.chmodSync(root, 0o755);
    const shared = path.join(root, 'team');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    const database = path.join(shared, 'memory.db');
    const env = { NUAGENT_HOME: path.join(root, 'home'), NUAGENT_DATABASE: database };
    expect((await runCli([], '/exit\n', { env })).code).toBe(0);

    const lockPath = `${database}.backup-lock`;
    execFileSync('mkdir', [lockPath], { uid: OTHER, gid: OTHER });
    const who = nameOf(OTHER) ? `user ${OTHER} (${nameOf(OTHER)})` : `user ${OTHER}`;

    const refused = await runCli(['backup', path.join(root, 'b.db')], '', { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).not.toContain('Waiting');
    expect(refused.stderr).toContain(
      `Error: the backup lock ${lockPath} belongs to ${who}, not to you: nu-agent did not make it`,
    );
    expect(refused.stderr).toContain(`Try: Ask ${who} or an administrator to remove ${lockPath}.`);
    expect(fs.existsSync(path.join(root, 'b.db'))).toBe(false);

    const repl = await runCli([], '/info\n/exit\n', { env });
    expect(repl.code).toBe(0);
    expect(repl.stdout).toContain(database);
    expect(repl.stderr).toContain(`Warning: the backup lock ${lockPath} belongs to ${who}`);
    expect(repl.stderr).not.toContain('Waiting');
    expect(fs.statSync(lockPath).uid).toBe(OTHER);
  });
});
