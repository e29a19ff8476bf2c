import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { BackupEvent } from '../backup/types.js';
import { messages } from '../errors.js';
import type { AutoCommandContext, AutoCommandResult } from './commands.js';
import { LineSplitter, PROTOCOL_VERSION, encode } from './control-protocol.js';
import { toWireError } from '../../workers/shared/wire-error.js';
import { REQUEST_OPS } from './control-protocol.js';
import type { CommandRequest, Hello, OutputMessage, RequestOp, ServerMessage } from './control-protocol.js';

// The listening side of the control socket, run by the nu-agent that holds the database (the REPL) so that
// `nu-agent auto-backup …` in another process never has to open the database (DuckDB allows one writer).
// The socket is owner-only: created under umask 0177 and chmod 0600, inside the 0700 data directory. A socket
// file left by a crashed process refuses connections (ECONNREFUSED): it is removed and replaced. A socket that
// answers belongs to a live nu-agent and is left alone. A backup asked for over the socket runs to its end even
// if the asker goes away (its result is recorded in the auto-backup state); only shutting down cancels it.

export interface HandlerContext extends Pick<AutoCommandContext, 'cwd' | 'onEvent' | 'signal'> {
  /** What was asked: `command` (auto-backup) unless the client said otherwise. */
  op: RequestOp;
  /** The asking process, when it said. */
  pid?: number | undefined;
  /** Aborted when the asker goes away (its Ctrl-C) or the server closes. */
  askerGone: AbortSignal;
  /** Streams a printed line (or a reported error) to the asker. */
  output(message: Omit<OutputMessage, 'type'>): void;
}

export type Handler = (args: string[], context: HandlerContext) => Promise<AutoCommandResult>;

export interface ControlServerOptions {
  socketPath: string;
  hello: Omit<Hello, 'type' | 'protocol'>;
  handle: Handler;
  /** Lines worth knowing with debug on (a connection, a stale socket replaced). */
  log?: (text: string) => void;
  /** Time a client has to send its request after connecting. */
  requestTimeoutMs?: number;
}

export type ListenOutcome = { listening: true } | { listening: false; reason: string };

/** Sends at most one progress event per interval (and always the last one); everything else at once. */
const PROGRESS_INTERVAL_MS = 200;

export class ControlServer {
  private server: net.Server | undefined;
  private inode: number | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly abort = new AbortController();
  private readonly serving = new Set<string>();

  constructor(private readonly options: ControlServerOptions) {}

  get path(): string {
    return this.options.socketPath;
  }

  /** What another terminal asked that is running now (`a backup asked from another terminal`), if anything. */
  get activity(): string | undefined {
    return [...this.serving].pop();
  }

  async listen(): Promise<ListenOutcome> {
    const file = this.options.socketPath;
    const existing = await probe(file);
    if (existing === 'live') return { listening: false, reason: `another nu-agent already answers on ${file}` };
    if (existing === 'stale') {
      this.options.log?.(`control socket: replacing ${file}, left by a process that is gone`);
      fs.unlinkSync(file);
    } else if (existing !== 'absent') {
      return { listening: false, reason: `${file} exists and is not a socket this user can use` };
    }
    const server = net.createServer((socket) => this.accept(socket));
    await listenPrivately(server, file);
    fs.chmodSync(file, 0o600);
    this.inode = fs.statSync(file).ino;
    server.unref();
    this.server = server;
    return { listening: true };
  }

  /** Stops listening, ends open connections (a backup they asked for is cancelled) and removes the socket. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.abort.abort();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    // libuv removes the file when the server closes; make sure, but never remove a successor's socket.
    try {
      if (fs.statSync(this.options.socketPath).ino === this.inode) fs.unlinkSync(this.options.socketPath);
    } catch {
      // already gone
    }
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    const send = (message: ServerMessage) => {
      if (!socket.destroyed && socket.writable) socket.write(encode(message));
    };
    send({ type: 'hello', protocol: PROTOCOL_VERSION, ...this.options.hello });

    const askerGone = new AbortController();
    socket.on('close', () => askerGone.abort());
    const timer = setTimeout(() => socket.destroy(), this.options.requestTimeoutMs ?? 10_000);
    const splitter = new LineSplitter();
    let started = false;
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        if (started) return socket.destroy();
        started = true;
        clearTimeout(timer);
        return this.finish(socket, failure(err));
      }
      if (lines.length === 0) return;
      if (!started) {
        started = true;
        clearTimeout(timer);
        void this.serve(lines.shift()!, send, askerGone.signal).then((result) => this.finish(socket, result));
      }
      // After the request only a cancel means anything: the asker pressed Ctrl-C and waits for the outcome.
      if (lines.some(isCancel)) askerGone.abort();
    });
  }

  private async serve(line: string, send: (m: ServerMessage) => void, gone: AbortSignal): Promise<ServerMessage> {
    let request: CommandRequest;
    try {
      request = parseRequest(line);
    } catch (err) {
      return failure(err);
    }
    this.options.log?.(`control socket: ${request.op} ${request.args.join(' ')}`.trim());
    let lastProgress = 0;
    const onEvent = (event: BackupEvent) => {
      if (event.type === 'progress' && event.copiedBytes < event.totalBytes) {
        const now = Date.now();
        if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
        lastProgress = now;
      }
      send({ type: 'event', event });
    };
    const activity = describeActivity(request);
    if (activity) this.serving.add(activity);
    try {
      const result = await this.options.handle(request.args, {
        op: request.op,
        pid: request.pid,
        cwd: request.cwd,
        onEvent,
        signal: this.abort.signal,
        askerGone: AbortSignal.any([gone, this.abort.signal]),
        output: (message) => send({ type: 'output', ...message }),
      });
      return {
        type: 'result',
        ok: result.error === undefined,
        lines: result.lines,
        data: result.data,
        error: result.error ? toWireError(result.error) : undefined,
        exitCode: result.exitCode,
      };
    } catch (err) {
      return failure(err);
    } finally {
      if (activity) this.serving.delete(activity);
    }
  }

  private finish(socket: net.Socket, message: ServerMessage): void {
    if (!socket.destroyed) socket.end(encode(message));
  }
}

function failure(err: unknown): ServerMessage {
  return { type: 'result', ok: false, lines: [], error: toWireError(err), exitCode: 1 };
}

function isCancel(line: string): boolean {
  try {
    return (JSON.parse(line) as { op?: unknown }).op === 'cancel';
  } catch {
    return false;
  }
}

/** What the REPL's chat says it waits for while this request runs; undefined for quick requests. */
function describeActivity(request: CommandRequest): string | undefined {
  const from = `from another terminal${request.pid ? ` (pid ${request.pid})` : ''}`;
  if (request.op === 'backup') return `the backup asked ${from}`;
  if (request.op === 'restore') return `the restore asked ${from}`;
  if (request.op === 'command' && request.args[0]?.toLowerCase() === 'run') return `the automatic backup asked ${from}`;
  return undefined;
}

function parseRequest(line: string): CommandRequest {
  const bad = messages.controlBadRequest;
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    throw bad('not JSON');
  }
  const r = data as Partial<CommandRequest>;
  if (!REQUEST_OPS.includes(r.op as RequestOp)) throw bad(`unknown op ${JSON.stringify(r.op)}`);
  if (!Array.isArray(r.args) || !r.args.every((a) => typeof a === 'string')) throw bad('args must be strings');
  if (typeof r.cwd !== 'string' || !path.isAbsolute(r.cwd)) throw bad('cwd must be an absolute path');
  const pid = Number.isSafeInteger(r.pid) && (r.pid as number) > 0 ? r.pid : undefined;
  return { op: r.op as RequestOp, args: r.args, cwd: r.cwd, pid };
}

/** What is at the socket path: nothing, a socket nobody answers on, a live one, or some other file. */
export async function probe(file: string): Promise<'absent' | 'stale' | 'live' | 'other'> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch {
    return 'absent';
  }
  if (!stat.isSocket()) return 'other';
  return new Promise((resolve) => {
    const socket = net.connect(file);
    socket.once('connect', () => {
      socket.destroy();
      resolve('live');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'stale' : 'other');
    });
  });
}

/** Binds with umask 0177 so the socket is never, even for an instant, open to others. */
function listenPrivately(server: net.Server, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let previous: number | undefined;
    try {
      previous = process.umask(0o177);
    } catch {
      previous = undefined; // worker threads cannot change the umask; the chmod below still applies
    }
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    try {
      server.listen(file, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
  });
}
