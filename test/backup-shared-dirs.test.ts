import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackupService } from '../src/backup/backup-service.js';
import { writeCopyJournal } from '../src/backup/inflight.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { createTempFile } from '../src/backup/durable-file.js';
import { backupFixture } from './helpers/backup-app.js';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// Another local user shares the directory the database or the backup lives in (the README's own
// `--database ./team-memory.db`). What they plant there must never make nu-agent delete their files or ours,
// never make a backup fail, and never let them read the memory while it is copied. The tests run as root, so
// "another user" is uid 65534: planted files are chowned to it, and reads are tried by a process running as it.

const OTHER = 65534;
const asRoot = process.getuid?.() === 0;

/** A directory everybody may write to, like /tmp or a team folder (sticky, as /tmp is). */
function sharedDir(parent: string, name: string): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir);
  fs.chmodSync(dir, 0o1777);
  return dir;
}

/** Plants a file (or directory) owned by the other user. */
function plant(file: string, kind: 'file' | 'dir' = 'file'): string {
  if (kind === 'dir') fs.mkdirSync(file);
  else fs.writeFileSync(file, 'theirs\n');
  if (asRoot) fs.lchownSync(file, OTHER, OTHER);
  return file;
}

/** What the other user gets when they try to read file: the bytes, or the error code. */
function readAsOther(file: string): string {
  const script = `try { process.stdout.write('read ' + require('fs').readFileSync(${JSON.stringify(file)}).length) }
    catch (err) { process.stdout.write(err.code) }`;
  return execFileSync(process.execPath, ['-e', script], { uid: OTHER, gid: OTHER, encoding: 'utf8' });
}

describe('files that another user plants beside the database or the backup', { timeout: 120_000 }, () => {
  it('a journal planted beside the database never makes start-up delete the file it names', async () => {
    const fixture = await backupFixture(5);
    fs.chmodSync(fixture.dir, 0o1777);
    const victim = path.join(fixture.dir, 'victim-notes.txt');
    fs.writeFileSync(victim, 'precious\n');
    const journal = plant(`${fixture.deps.paths.backupLock}.inflight.json`);
    fs.writeFileSync(
      journal,
      JSON.stringify({ pid: 999_999_999, temp: victim, destination: victim, startedAt: new Date().toISOString() }),
    );
    createBackupService(fixture.deps);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    await fixture.close();
  });

  it('a journal of ours that names anything but our own temporary directory removes nothing', async () => {
    const fixture = await backupFixture(5);
    const shared = sharedDir(fixture.dir, 'shared');
    const destination = path.join(shared, 'b.db');
    const victim = path.join(shared, 'victim.txt');
    fs.writeFileSync(victim, 'precious\n');
    // Names a real temporary directory has: another user's directory, and a link to a folder of the victim's.
    const real = path.dirname(createTempFile(destination));
    fs.rmdirSync(real);
    const theirs = plant(real.slice(0, -6) + 'THEIRS', 'dir');
    fs.writeFileSync(path.join(theirs, 'copy'), 'theirs\n');
    const victimDir = path.join(fixture.dir, 'victim-dir');
    fs.mkdirSync(victimDir);
    fs.writeFileSync(path.join(victimDir, 'copy'), 'precious\n');
    const link = real.slice(0, -6) + 'LINKED';
    fs.symlinkSync(victimDir, link);
    for (const temp of [victim, path.join(theirs, 'copy'), path.join(link, 'copy')]) {
      writeCopyJournal(fixture.deps.paths, { temp, destination });
      createBackupService(fixture.deps);
    }
    expect(fs.readFileSync(path.join(victimDir, 'copy'), 'utf8')).toBe('precious\n');
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.readFileSync(path.join(theirs, 'copy'), 'utf8')).toBe('theirs\n');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    await fixture.close();
  });

  it('follows the journal only when it is ours and nobody else may write it, and then removes our leftover', async () => {
    const fixture = await backupFixture(5);
    const destination = path.join(fixture.dir, 'b.db');
    const temp = createTempFile(destination); // a crashed copy's private directory, as the journal names it
    fs.writeFileSync(temp, 'half a copy');
    writeCopyJournal(fixture.deps.paths, { temp, destination });
    const journal = path.join(fixture.deps.paths.home, fs.readdirSync(fixture.deps.paths.home)[0]!);
    fs.chmodSync(journal, 0o620);
    createBackupService(fixture.deps);
    expect(fs.existsSync(temp)).toBe(true);
    fs.chmodSync(journal, 0o600);
    if (asRoot) {
      fs.chownSync(journal, OTHER, OTHER);
      createBackupService(fixture.deps);
      expect(fs.existsSync(temp)).toBe(true);
      fs.chownSync(journal, 0, 0);
    }
    createBackupService(fixture.deps);
    expect(fs.existsSync(path.dirname(temp))).toBe(false);
    expect(fs.existsSync(journal)).toBe(false);
    await fixture.close();
  });

  it("another user's files with the temporary marker survive a backup into a shared directory, which succeeds", async () => {
    const fixture = await backupFixture(5);
    const shared = sharedDir(fixture.dir, 'shared');
    const victim = path.join(fixture.dir, 'victim.txt');
    fs.writeFileSync(victim, 'precious\n');
    const planted = [
      plant(path.join(shared, 'report.nu-agent-tmp-notes.txt')),
      plant(path.join(shared, '.b.db.nu-agent-tmp-999999999-planted'), 'dir'),
    ];
    if (asRoot) {
      // Exactly the name a crashed nu-agent of this host would leave, but made by the other user.
      const real = path.dirname(createTempFile(path.join(shared, 'b.db')));
      fs.rmdirSync(real);
      planted.push(plant(real.replace(`-${process.pid}-`, '-999999999-'), 'dir'));
    }
    const link = path.join(shared, '.b.db.nu-agent-tmp-999999999-link');
    fs.symlinkSync(victim, link);
    if (asRoot) fs.lchownSync(link, OTHER, OTHER);

    const outcome = await createBackupService(fixture.deps).run({
      trigger: 'manual',
      destination: path.join(shared, 'b.db'),
    });
    expect(outcome.ok).toBe(true);
    for (const file of planted) expect(fs.existsSync(file)).toBe(true);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.readdirSync(shared).sort()).toEqual(
      ['b.db', 'b.db.manifest.json', ...planted.map((p) => path.basename(p)), path.basename(link)].sort(),
    );
    await fixture.close();
  });

  it.runIf(asRoot)('nobody else can open the copy while it is written into a shared directory', async () => {
    const fixture = await backupFixture(20);
    // The database as DuckDB creates it under the usual umask: readable by everybody.
    fs.chmodSync(fixture.store.path, 0o644);
    fs.chmodSync(fixture.dir, 0o755);
    const shared = sharedDir(fixture.dir, 'shared');
    const seen: { dirMode: number; sameDir: boolean; other: string }[] = [];
    const service = createBackupService(fixture.deps, {
      faults: {
        afterCopy: (temp) =>
          seen.push({
            dirMode: fs.lstatSync(path.dirname(temp)).mode & 0o7777,
            sameDir: path.dirname(temp) === shared,
            other: readAsOther(temp),
          }),
      },
    });
    const outcome = await service.run({ trigger: 'manual', destination: path.join(shared, 'b.db') });
    expect(outcome.ok).toBe(true);
    expect(seen).toEqual([{ dirMode: 0o700, sameDir: false, other: 'EACCES' }]);
    expect(fs.statSync(path.join(shared, 'b.db')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(shared, 'b.db.manifest.json')).mode & 0o777).toBe(0o600);
    expect(readAsOther(path.join(shared, 'b.db'))).toBe('EACCES');
    await fixture.close();
  });
});

describe('the live database is private', { timeout: 120_000 }, () => {
  it('an existing database of ours that others may read becomes 0600 when opened', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'team-memory.db');
    await (await MemoryStore.open(file)).close();
    fs.chmodSync(file, 0o644);
    const store = await MemoryStore.open(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    await store.close();
  });

  it('a database and its backups made by the CLI are 0600 from the start', async () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    const home = path.join(dir, 'home');
    const database = path.join(dir, 'team-memory.db');
    fs.mkdirSync(path.join(dir, 'out'));
    const run = await runCli(['--database', database], '/backup out/\n/exit\n', {
      cwd: dir,
      env: { NUAGENT_HOME: home },
    });
    expect(run.code).toBe(0);
    const made = [database, ...fs.readdirSync(path.join(dir, 'out')).map((n) => path.join(dir, 'out', n))];
    expect(made).toHaveLength(3);
    for (const file of made) expect([file, fs.statSync(file).mode & 0o777]).toEqual([file, 0o600]);
    if (asRoot) expect(readAsOther(database)).toBe('EACCES');
  });
});
