import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { messages } from '../errors.js';
import type { DataPaths } from '../paths.js';
import type { BackupEvent } from '../backup/types.js';
import type { WireError } from '../../workers/shared/protocol.js';

// The control socket's wire format: line-delimited JSON over a Unix socket, one request per connection.
//   server → client, on connect:  {"type":"hello","protocol":1,"pid":…,"version":…,"database":…}
//   client → server:              {"op":"command","args":["run"],"cwd":"/where/the/user/is","pid":…}
//                                 op "command": `auto-backup …`; "backup": `nu-agent backup …`; "restore":
//                                 `nu-agent backup restore FILE --yes` (confirmed by the asker); "sources":
//                                 where `backup list` looks (the backup directories and the recorded backups)
//   server → client, while busy:  {"type":"event","event":{…BackupEvent…}}
//                             and {"type":"output","line":"…"} or {"type":"output","error":{…}} as printed
//   client → server, any time after the request: {"op":"cancel"} (Ctrl-C at the asker; the result still follows)
//   server → client, at the end:  {"type":"result","ok":true,"lines":[…],"data":…,"exitCode":0}
//                             or  {"type":"result","ok":false,"lines":[…],"error":{"message","hint","code"},"exitCode":1}
// The hello comes first so that a client can check it reached the nu-agent holding *its* database before it
// asks for anything.

export const PROTOCOL_VERSION = 1;
/** A request line longer than this is refused (the socket is owner-only; this guards against mistakes). */
export const MAX_LINE_BYTES = 64 * 1024;
/** sun_path holds 108 bytes on Linux including the terminating NUL (104 on macOS). */
export const MAX_SOCKET_PATH_BYTES = os.platform() === 'linux' ? 107 : 103;

export interface Hello {
  type: 'hello';
  protocol: number;
  pid: number;
  version: string;
  database: string;
}

export const REQUEST_OPS = ['command', 'backup', 'restore', 'sources'] as const;
export type RequestOp = (typeof REQUEST_OPS)[number];

export interface CommandRequest {
  op: RequestOp;
  args: string[];
  /** The client's working directory: a relative `dir <path>` means relative to where the user typed it. */
  cwd: string;
  /** The asking process, so that the REPL can say who asked. */
  pid?: number | undefined;
}

export interface CommandResultMessage {
  type: 'result';
  ok: boolean;
  lines: string[];
  data?: unknown;
  error?: WireError | undefined;
  exitCode: number;
}

/** A line the command printed (or an error it reported without failing, a warning), streamed as it happens. */
export interface OutputMessage {
  type: 'output';
  line?: string | undefined;
  error?: WireError | undefined;
}

export type ServerMessage = Hello | { type: 'event'; event: BackupEvent } | OutputMessage | CommandResultMessage;

/** Sent after the request, on the same connection: the asker pressed Ctrl-C. */
export interface CancelRequest {
  op: 'cancel';
}

export function encode(message: ServerMessage | CommandRequest | CancelRequest): string {
  return JSON.stringify(message) + '\n';
}

/** Revives the Date inside a transition event after JSON. */
export function reviveEvent(event: BackupEvent): BackupEvent {
  return event.type === 'transition' ? { ...event, at: new Date(event.at) } : event;
}

/** Splits a byte stream into lines; refuses a line longer than maxBytes. */
export class LineSplitter {
  private buffer = '';
  constructor(private readonly maxBytes = MAX_LINE_BYTES) {}

  push(chunk: string): string[] {
    this.buffer += chunk;
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    if (Buffer.byteLength(this.buffer) > this.maxBytes) throw new Error(`a line longer than ${this.maxBytes} bytes`);
    return lines.filter((l) => l.trim() !== '');
  }
}

/**
 * Where the control socket of this data directory lives. Normally `<home>/control.sock` (inside the 0700 data
 * directory). When that path is longer than a Unix socket path may be, a short one in a private directory
 * (mode 0700, owned by us, not a link) under $XDG_RUNTIME_DIR or the temp dir, named by a hash of the data
 * directory so that every process using the same data directory finds the same socket.
 */
export function controlSocketPath(paths: DataPaths): string {
  if (Buffer.byteLength(paths.controlSocket) <= MAX_SOCKET_PATH_BYTES) return paths.controlSocket;
  const name = `nuagent-${crypto.createHash('sha256').update(paths.home).digest('hex').slice(0, 16)}.sock`;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const bases = [process.env.XDG_RUNTIME_DIR, os.tmpdir(), '/tmp'].filter((b): b is string => Boolean(b));
  for (const base of bases) {
    const dir = base === process.env.XDG_RUNTIME_DIR ? base : path.join(base, `nuagent-${uid}`);
    const candidate = path.join(dir, name);
    if (Buffer.byteLength(candidate) > MAX_SOCKET_PATH_BYTES) continue;
    if (dir !== base) ensurePrivateDir(dir, uid);
    return candidate;
  }
  throw messages.controlSocketUnsafe(paths.home, 'no short enough directory for a Unix socket');
}

/** Creates dir with mode 0700, or checks that an existing one is a real directory owned by uid and private. */
function ensurePrivateDir(dir: string, uid: number): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw messages.controlSocketUnsafe(dir, String(err));
  }
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory()) throw messages.controlSocketUnsafe(dir, 'it is not a directory');
  if (stat.uid !== uid) throw messages.controlSocketUnsafe(dir, `it belongs to uid ${stat.uid}`);
  if ((stat.mode & 0o077) !== 0) throw messages.controlSocketUnsafe(dir, 'others can open it (mode is not 0700)');
}
