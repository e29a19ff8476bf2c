import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Output } from '../src/app.js';
import type { BackupEvent } from '../src/backup/types.js';
import { askRunningAgent, greetRunningAgent } from '../src/auto-backup/control-client.js';
import { MAX_SOCKET_PATH_BYTES, controlSocketPath } from '../src/auto-backup/control-protocol.js';
import { ControlServer } from '../src/auto-backup/control-server.js';
import type { Handler } from '../src/auto-backup/control-server.js';
import { createAutoBackupPart } from '../src/auto-backup/runtime.js';
import { resolveDataPaths } from '../src/paths.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { FakeBackupService } from './helpers/fake-backup-service.js';
import { tempDir } from './helpers/temp-dir.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const DB = '/data/memory.db';

async function serve(socketPath: string, handle: Handler, database = DB) {
  const server = new ControlServer({ socketPath, hello: { pid: process.pid, version: 'test', database }, handle });
  const outcome = await server.listen();
  cleanups.push(() => server.close());
  return { server, outcome };
}

const ask = (socketPath: string, args: string[], onEvent?: (e: BackupEvent) => void, database = DB) =>
  askRunningAgent({ socketPath, database, args, cwd: '/somewhere', onEvent, helloTimeoutMs: 2000 });

/** A process that listens on the socket and is then killed with SIGKILL: what a crash leaves behind. */
async function leaveStaleSocket(socketPath: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('control socket', () => {
  it('answers a command with its events and result, on an owner-only socket', async () => {
    const socketPath = path.join(tempDir(), 'control.sock');
    const seen: { args: string[]; cwd: string }[] = [];
    const { outcome } = await serve(socketPath, async (args, context) => {
      seen.push({ args, cwd: context.cwd });
      context.onEvent?.({ type: 'step', text: 'Pausing workers...' });
      context.onEvent?.({ type: 'transition', from: 'pausing', to: 'copying', at: new Date(0), msInPrevious: 3 });
      return { lines: ['done'], data: { n: 1 }, exitCode: 0 };
    });
    expect(outcome).toEqual({ listening: true });
    expect(fs.statSync(socketPath).mode & 0o777).toBe(0o600);

    const events: BackupEvent[] = [];
    const answer = await ask(socketPath, ['run'], (e) => events.push(e));
    expect(answer).toMatchObject({
      kind: 'answered',
      hello: { pid: process.pid, database: DB },
      result: { ok: true, lines: ['done'], data: { n: 1 }, exitCode: 0 },
    });
    expect(seen).toEqual([{ args: ['run'], cwd: '/somewhere' }]);
    expect(events).toEqual([
      { type: 'step', text: 'Pausing workers...' },
      { type: 'transition', from: 'pausing', to: 'copying', at: new Date(0), msInPrevious: 3 },
    ]);
  });

  it('streams what a backup asked of it prints, and a Ctrl-C at the asker cancels it with the result still sent', async () => {
    const socketPath = path.join(tempDir(), 'control.sock');
    const late: { server?: ControlServer } = {};
    const activities: (string | undefined)[] = [];
    const { server } = await serve(socketPath, async (args, context) => {
      expect(context.op).toBe('backup');
      activities.push(late.server!.activity);
      context.output({ line: `backing up to ${args[0]}` });
      // Runs until the asker cancels: the cancel arrives on the same connection.
      await new Promise<void>((resolve) => context.askerGone.addEventListener('abort', () => resolve()));
      context.output({ line: 'stopped' });
      return { lines: [], error: new Error('the backup was cancelled'), exitCode: 1 };
    });
    late.server = server;
    const cancel = new AbortController();
    const printed: string[] = [];
    const answer = await askRunningAgent({
      socketPath,
      database: DB,
      op: 'backup',
      args: ['/tmp/x.db'],
      cwd: '/',
      signal: cancel.signal,
      onOutput: (m) => {
        printed.push(m.line ?? '');
        if (m.line?.startsWith('backing up')) cancel.abort();
      },
    });
    expect(printed).toEqual(['backing up to /tmp/x.db', 'stopped']);
    expect(answer).toMatchObject({ kind: 'answered', result: { ok: false, exitCode: 1 } });
    expect(activities).toEqual([`the backup asked from another terminal (pid ${process.pid})`]);
    expect(server.activity).toBeUndefined();
  });

  it('greets without asking anything, and only for its own database', async () => {
    const socketPath = path.join(tempDir(), 'control.sock');
    expect(await greetRunningAgent(socketPath, DB)).toBeUndefined();
    let asked = 0;
    await serve(socketPath, async () => ({ lines: [], exitCode: (asked++, 0) }));
    expect(await greetRunningAgent(socketPath, DB)).toMatchObject({ type: 'hello', pid: process.pid, database: DB });
    expect(await greetRunningAgent(socketPath, '/elsewhere/other.db')).toBeUndefined();
    expect(asked).toBe(0);
  });

  it('carries an error with its hint back to the asker', async () => {
    const socketPath = path.join(tempDir(), 'control.sock');
    await serve(socketPath, async () => {
      const { messages } = await import('../src/errors.js');
      throw messages.autoBackupCronNeverFires('0 2 30 2 *');
    });
    const answer = await ask(socketPath, ['cron', '0', '2', '30', '2', '*']);
    expect(answer).toMatchObject({
      kind: 'answered',
      result: { ok: false, exitCode: 1, error: { code: 'AUTO_CRON_NEVER_FIRES', hint: expect.stringMatching(/date/) } },
    });
  });

  it('reports no running nu-agent when there is no socket, or one for another database', async () => {
    const socketPath = path.join(tempDir(), 'control.sock');
    expect(await ask(socketPath, ['status'])).toEqual({ kind: 'none', why: 'no socket' });
    await serve(socketPath, async () => ({ lines: [], exitCode: 0 }), '/elsewhere/other.db');
    expect(await ask(socketPath, ['status'])).toMatchObject({ kind: 'none', why: 'other database' });
  });

  it('detects a stale socket left by a crashed process and replaces it', async () => {
    const socketPath = path.join(tempDir(), 'control.sock');
    await leaveStaleSocket(socketPath);
    expect(fs.lstatSync(socketPath).isSocket()).toBe(true);
    expect(await ask(socketPath, ['status'])).toEqual({ kind: 'none', why: 'stale socket' });

    const { outcome } = await serve(socketPath, async () => ({ lines: ['fresh'], exitCode: 0 }));
    expect(outcome).toEqual({ listening: true });
    expect(await ask(socketPath, ['status'])).toMatchObject({ kind: 'answered', result: { lines: ['fresh'] } });
  });

  it('leaves a live socket to its owner, and removes its own file when it closes', async () => {
    const socketPath = path.join(tempDir(), 'control.sock');
    const first = await serve(socketPath, async () => ({ lines: ['first'], exitCode: 0 }));
    const second = await serve(socketPath, async () => ({ lines: ['second'], exitCode: 0 }));
    expect(second.outcome).toMatchObject({ listening: false, reason: expect.stringMatching(/already answers/) });
    expect(await ask(socketPath, ['status'])).toMatchObject({ result: { lines: ['first'] } });
    await first.server.close();
    expect(fs.existsSync(socketPath)).toBe(false);
  });

  it('refuses a request that is not a command', async () => {
    const socketPath = path.join(tempDir(), 'control.sock');
    await serve(socketPath, async () => ({ lines: [], exitCode: 0 }));
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(socketPath);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      socket.on('end', () => resolve(text));
      socket.write('{"op":"shell","args":["rm -rf /"]}\n');
    });
    const last = JSON.parse(reply.trim().split('\n').pop()!);
    expect(last).toMatchObject({ type: 'result', ok: false, error: { code: 'CONTROL_BAD_REQUEST' } });
  });

  it('fails clearly when the process on the socket never answers', async () => {
    const socketPath = path.join(tempDir(), 'control.sock');
    const mute = net.createServer(() => {});
    await new Promise<void>((resolve) => mute.listen(socketPath, resolve));
    cleanups.push(() => new Promise((resolve) => mute.close(() => resolve())));
    await expect(
      askRunningAgent({ socketPath, database: DB, args: ['run'], cwd: '/', helloTimeoutMs: 200 }),
    ).rejects.toMatchObject({ code: 'CONTROL_NO_ANSWER' });
  });

  it('uses a short private path when the data directory is too deep for a Unix socket', async () => {
    const deep = path.join(tempDir(), 'x'.repeat(60), 'y'.repeat(60));
    const paths = resolveDataPaths({ NUAGENT_HOME: deep });
    expect(Buffer.byteLength(paths.controlSocket)).toBeGreaterThan(MAX_SOCKET_PATH_BYTES);
    const socketPath = controlSocketPath(paths);
    expect(Buffer.byteLength(socketPath)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
    expect(controlSocketPath(paths)).toBe(socketPath);
    if (!process.env.XDG_RUNTIME_DIR) expect(fs.statSync(path.dirname(socketPath)).mode & 0o777).toBe(0o700);
    await serve(socketPath, async () => ({ lines: ['short'], exitCode: 0 }));
    expect(await ask(socketPath, ['status'])).toMatchObject({ result: { lines: ['short'] } });
  });
});

describe('the auto-backup behind the socket', () => {
  it('runs a backup asked for from outside as an external trigger, and resolves a directory where the user is', async () => {
    const home = tempDir();
    const paths = resolveDataPaths({ NUAGENT_HOME: home });
    const store = await MemoryStore.open(paths.database, { createParentDir: true });
    cleanups.push(() => store.close());
    const backups = new FakeBackupService();
    const lines: string[] = [];
    const out: Output = { line: (t) => lines.push(t), error: () => {}, debug: () => {}, isTTY: false };
    const part = await createAutoBackupPart({ paths, store, backups, out, version: 'test' });
    cleanups.push(() => part.stop());
    await part.api.startBackground();
    const socketPath = controlSocketPath(paths);
    expect(part.api.control?.path).toBe(socketPath);

    const ran = await askRunningAgent({ socketPath, database: paths.database, args: ['run'], cwd: home });
    expect(ran).toMatchObject({ kind: 'answered', result: { ok: true, exitCode: 0, data: { status: 'success' } } });
    expect(backups.requests).toMatchObject([{ trigger: 'external', directory: paths.defaultBackupDir }]);

    const where = tempDir();
    const moved = await askRunningAgent({ socketPath, database: paths.database, args: ['dir', 'kept'], cwd: where });
    expect(moved).toMatchObject({
      result: { ok: true, lines: [`Auto-backup dir set to ${path.join(where, 'kept')}.`] },
    });

    const status = await askRunningAgent({ socketPath, database: paths.database, args: ['status'], cwd: home });
    expect(status).toMatchObject({
      result: { data: { lastStatus: 'success', directory: path.join(where, 'kept'), scheduler: { kind: 'here' } } },
    });
  });
});
