import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.js';
import { OFFLINE_REPLY } from '../src/llm/offline.js';
import { collect, runCli, startCli, waitForOutput } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// The CLI and the REPL end to end: the compiled program, spawned, fed through stdin.

const version = (
  JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

describe('nu-agent, piped', () => {
  it('chats offline, quits, and shows the earlier exchange, settings and history after a restart', async () => {
    const home = path.join(tempDir(), 'data', 'home');
    const env = { NUAGENT_HOME: home };
    const first = await runCli([], 'hello from the first run\n/debug on\n/exit\n/info\n', { env });
    // The banner goes to stderr, like errors: stdout carries only the answers a script asked for.
    expect(first.stderr).toMatch(new RegExp(`^nu-agent ${version}\nMemory: ${path.join(home, 'memory.db')}\n[^]*\n$`));
    expect(first.stderr).not.toContain('Error');
    expect(first.code).toBe(0);
    expect(first.stdout).not.toContain('Memory: ');
    expect(first.stdout).toContain(OFFLINE_REPLY);
    expect(first.stdout).toContain('Debug is on.');
    expect(first.stdout).not.toContain('Rows:'); // nothing after /exit runs
    expect(fs.statSync(home).mode & 0o777).toBe(0o700);

    const second = await runCli([], '/history\n/info\n', { env });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/conversation 1, exchange 1 · .* · completed · offline/);
    expect(second.stdout).toContain('  you: hello from the first run');
    expect(second.stdout).toContain(`Database: ${path.join(home, 'memory.db')}`);
    expect(second.stdout).toMatch(/^Size: \d/m);
    expect(second.stdout).toMatch(/^ {2}exchanges +1$/m);
    expect(second.stdout).toMatch(/^ {2}messages +2$/m);
    expect(second.stdout).toContain('Debug: on');

    const store = await MemoryStore.open(path.join(home, 'memory.db'));
    const history = await store.all<{ command: string }>(`SELECT command FROM command_history ORDER BY id`);
    expect(history.map((h) => h.command)).toEqual([
      'hello from the first run',
      '/debug on',
      '/exit',
      '/history',
      '/info',
    ]);
    await store.close();
  });

  it('says so for an unknown command, keeps going, and exits non-zero at the end of input', async () => {
    const run = await runCli([], '/nope\n/info\n', { env: { NUAGENT_HOME: path.join(tempDir(), 'home') } });
    expect(run.stderr).toMatch(/\nError: Unknown command: \/nope\. Try \/help\.\n$/);
    expect(run.stdout).toContain('Rows:');
    expect(run.code).toBe(1);
  });
});

describe('nu-agent, when the reader of its output goes away', () => {
  it('stops and closes the database cleanly instead of crashing', async () => {
    const home = path.join(tempDir(), 'home');
    const child = startCli([], { env: { NUAGENT_HOME: home } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitForOutput(child, 'Memory: ');
    child.stdout.destroy(); // like `nu-agent | head -4`
    child.stdin.write('/help\n');
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/Error|EPIPE/);
    expect(fs.readdirSync(home)).toEqual(['memory.db']); // no write-ahead log left behind
  });
});

describe('nu-agent flags', () => {
  it('prints its version and its help', async () => {
    const v = await runCli(['--version']);
    expect(v).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: nu-agent \[options\]/);
    for (const text of ['--database <path>', '--debug', 'NUAGENT_HOME', 'NUAGENT_LLM_URL']) {
      expect(help.stdout).toContain(text);
    }
    const wrong = await runCli(['--databse', 'x.db']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("error: unknown option '--databse'");
  });

  it('opens the file given by --database, resolved to an absolute path, instead of the data directory', async () => {
    const dir = tempDir();
    const home = path.join(dir, 'home');
    const run = await runCli(['--database', 'elsewhere.db', '--debug'], '/info\n', {
      cwd: dir,
      env: { NUAGENT_HOME: home, NUAGENT_DATABASE: path.join(dir, 'ignored.db') },
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`Memory: ${path.join(dir, 'elsewhere.db')}`);
    expect(run.stdout).toContain('Debug: on');
    expect(fs.readdirSync(dir).sort()).toEqual(['elsewhere.db']);
  });
});

/** Runs nu-agent on a database it must refuse; returns its stderr lines after checking the exit code. */
async function refused(args: string[], options: Parameters<typeof runCli>[2] = {}) {
  const run = await runCli(args, '/info\n', options);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  return run.stderr.trimEnd().split('\n');
}

describe('nu-agent refuses a database it cannot use, and changes nothing', () => {
  it('a file that is not a DuckDB database', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'notes.txt');
    fs.writeFileSync(db, 'my notes\n'.repeat(1000));
    const [error, hint, ...rest] = await refused(['--database', db]);
    expect(error).toBe(`Error: ${db} is not a DuckDB database file`);
    expect(hint).toMatch(/^Try: /);
    expect(rest).toEqual([]);
    expect(fs.readFileSync(db, 'utf8')).toBe('my notes\n'.repeat(1000));
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('a database another nu-agent has open', async () => {
    const home = path.join(tempDir(), 'home');
    const holder = startCli([], { env: { NUAGENT_HOME: home } });
    const held = collect(holder);
    // Once it has answered a command, whatever it sets up at start (a control socket, say) is in place.
    holder.stdin.write('/info\n');
    await waitForOutput(holder, 'Rows:');
    const before = fs.readdirSync(home).sort();

    const [error, hint, ...rest] = await refused([], { env: { NUAGENT_HOME: home } });
    expect(error).toMatch(
      new RegExp(`^Error: ${path.join(home, 'memory.db')} is in use by another process \\(.*PID ${holder.pid}\\)$`),
    );
    // A second REPL is not told to back up: the Try line fits what was run.
    expect(hint).toBe('Try: Close the other nu-agent first, or work in that one.');
    expect(rest).toEqual([]);
    expect(fs.readdirSync(home).sort()).toEqual(before);

    holder.stdin.end('/exit\n');
    expect((await held).code).toBe(0);
  });

  it('a directory it may not write to', async () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o755 });
    // Root may write anywhere: run the child as nobody, for whom the directory (owned by root) is read-only.
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) fs.chmodSync(locked, 0o555);
    const options = { cwd: dir, ...(asRoot ? { uid: 65534 } : {}) };

    const [error, hint, ...rest] = await refused(['--database', path.join(locked, 'memory.db')], options);
    expect(error).toBe(`Error: cannot write to the database directory ${locked}`);
    expect(hint).toMatch(/^Try: Fix its permissions/);
    expect(rest).toEqual([]);

    const [homeError] = await refused([], { ...options, env: { NUAGENT_HOME: path.join(locked, 'home') } });
    expect(homeError).toBe(`Error: cannot write to the database directory ${path.join(locked, 'home')}`);
    expect(fs.readdirSync(locked)).toEqual([]);
  });

  it('a read-only database file in a writable directory is blamed on the file, not the directory', async () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o777);
    const db = path.join(dir, 'memory.db');
    const made = await runCli(['--database', db], '/exit\n', { cwd: dir, env: { NUAGENT_HOME: path.join(dir, 'h') } });
    expect(made.code).toBe(0);
    fs.chmodSync(db, 0o444);
    // Root may write anywhere: run the child as nobody, for whom the file (owned by root, 0444) is read-only.
    const asRoot = process.getuid?.() === 0;
    const [error, hint, ...rest] = await refused(['--database', db], {
      cwd: dir,
      env: { NUAGENT_HOME: path.join(dir, 'nobody-home') },
      ...(asRoot ? { uid: 65534 } : {}),
    });
    expect(error).toBe(`Error: cannot write to the database file ${db}`);
    expect(hint).toBe(`Try: Make it writable (chmod u+rw ${db}), or choose another file with --database.`);
    expect(rest).toEqual([]);
  });
});

describe('the help texts', () => {
  it('--help names the embeddings variables; /help gives /backup one aligned row that ends in a whole sentence', async () => {
    const help = await runCli(['--help']);
    for (const name of ['NUAGENT_EMBEDDINGS_URL', 'NUAGENT_EMBEDDINGS_MODEL', 'NUAGENT_EMBEDDINGS_API_KEY'])
      expect(help.stdout).toContain(name);
    const run = await runCli([], '/help\n', { env: { NUAGENT_HOME: path.join(tempDir(), 'home') } });
    const rows = run.stdout.split('\n').filter((l) => l.startsWith('  /'));
    const summaryColumn = (row: string) => /^ {2}\S.*? {2,}(?=\S)/.exec(row)?.[0].length;
    expect(new Set(rows.map(summaryColumn)).size).toBe(1);
    const backup = rows.find((r) => r.startsWith('  /backup'));
    expect(backup).toMatch(/ {2}Back up the memory; .*\.$/);
  });
});
