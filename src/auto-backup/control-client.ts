import fs from 'node:fs';
import net from 'node:net';
import type { BackupEvent } from '../backup/types.js';
import { messages } from '../errors.js';
import { LineSplitter, MAX_LINE_BYTES, PROTOCOL_VERSION, encode, reviveEvent } from './control-protocol.js';
import type { CommandResultMessage, Hello, OutputMessage, RequestOp, ServerMessage } from './control-protocol.js';
import { realPathOf } from '../fs-facts.js';

// The asking side of the control socket: `nu-agent auto-backup …`, `nu-agent backup …` and `backup restore`
// first ask a running nu-agent, and only when none answers for this database do they open the database itself. "None" is decided from the socket alone
// (no file, or a file nobody listens on), never by trying to open the database: DuckDB allows one writer.

export type AskOutcome =
  | { kind: 'none'; why: 'no socket' | 'stale socket' | 'other database'; detail?: string | undefined }
  | { kind: 'answered'; hello: Hello; result: CommandResultMessage };

export interface AskOptions {
  socketPath: string;
  /** The resolved database this command is about; a nu-agent holding another one is not asked. */
  database: string;
  /** `command` (auto-backup …) by default. */
  op?: RequestOp | undefined;
  args: string[];
  cwd: string;
  onEvent?: ((event: BackupEvent) => void) | undefined;
  /** A line (or reported error) the command printed in the running nu-agent, as it happens. */
  onOutput?: ((message: OutputMessage) => void) | undefined;
  /** Time the running nu-agent has to greet us after the connection opens. */
  helloTimeoutMs?: number;
  /** The nu-agent that will answer greeted us (before the request is sent). */
  onHello?: ((hello: Hello) => void) | undefined;
  /** Aborting asks the running nu-agent to cancel; its result (cancelled, or done anyway) still arrives. */
  signal?: AbortSignal | undefined;
}

export function askRunningAgent(options: AskOptions): Promise<AskOutcome> {
  const file = options.socketPath;
  try {
    if (!fs.lstatSync(file).isSocket())
      return Promise.resolve({ kind: 'none', why: 'no socket', detail: 'not a socket' });
  } catch {
    return Promise.resolve({ kind: 'none', why: 'no socket' });
  }
  return new Promise<AskOutcome>((resolve, reject) => {
    const socket = net.connect(file);
    socket.setEncoding('utf8');
    const splitter = new LineSplitter(Number.MAX_SAFE_INTEGER);
    let hello: Hello | undefined;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(
      () =>
        settle(() => (socket.destroy(), reject(messages.controlNoAnswer(file, 'no greeting within the time allowed')))),
      options.helloTimeoutMs ?? 5000,
    );

    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!hello && (err.code === 'ECONNREFUSED' || err.code === 'ENOENT')) {
        return settle(() => resolve({ kind: 'none', why: 'stale socket' }));
      }
      settle(() => reject(messages.controlNoAnswer(file, err.code ?? err.message)));
    });
    socket.on('close', () => {
      settle(() => reject(messages.controlNoAnswer(file, 'the connection closed before the result arrived')));
    });
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        return settle(() => (socket.destroy(), reject(err)));
      }
      for (const line of lines) {
        let message: ServerMessage;
        try {
          message = JSON.parse(line) as ServerMessage;
        } catch {
          return settle(() => (socket.destroy(), reject(messages.controlNoAnswer(file, 'an answer that is not JSON'))));
        }
        if (message.type === 'hello') {
          hello = message;
          clearTimeout(timer);
          if (message.protocol !== PROTOCOL_VERSION) {
            return settle(() => {
              socket.destroy();
              reject(
                messages.controlNoAnswer(
                  file,
                  `it speaks protocol ${message.protocol}, this nu-agent ${PROTOCOL_VERSION}`,
                ),
              );
            });
          }
          if (!sameFile(message.database, options.database)) {
            return settle(() => {
              socket.destroy();
              resolve({ kind: 'none', why: 'other database', detail: `pid ${message.pid} holds ${message.database}` });
            });
          }
          options.onHello?.(message);
          socket.write(encode({ op: options.op ?? 'command', args: options.args, cwd: options.cwd, pid: process.pid }));
          const cancel = () => {
            if (!socket.destroyed && socket.writable) socket.write(encode({ op: 'cancel' }));
          };
          if (options.signal?.aborted) cancel();
          else options.signal?.addEventListener('abort', cancel, { once: true });
        } else if (message.type === 'event') {
          options.onEvent?.(reviveEvent(message.event));
        } else if (message.type === 'output') {
          options.onOutput?.(message);
        } else if (message.type === 'result' && hello) {
          const greeted = hello;
          return settle(() => (socket.end(), resolve({ kind: 'answered', hello: greeted, result: message })));
        }
      }
    });
  });
}

function sameFile(a: string, b: string): boolean {
  return a === b || realPathOf(a) === realPathOf(b);
}

/**
 * The hello of the nu-agent answering on the socket, when it holds this database; undefined when none does
 * (no socket, a stale one, another database, or no greeting in time). Nothing is asked.
 */
export function greetRunningAgent(socketPath: string, database: string, timeoutMs = 5000): Promise<Hello | undefined> {
  try {
    if (!fs.lstatSync(socketPath).isSocket()) return Promise.resolve(undefined);
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.setEncoding('utf8');
    const splitter = new LineSplitter(MAX_LINE_BYTES);
    const done = (hello: Hello | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(hello);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
    socket.on('data', (chunk: string) => {
      let first: string | undefined;
      try {
        first = splitter.push(chunk)[0];
      } catch {
        return done(undefined);
      }
      if (first === undefined) return;
      try {
        const hello = JSON.parse(first) as Hello;
        done(
          hello.type === 'hello' && hello.protocol === PROTOCOL_VERSION && sameFile(hello.database, database)
            ? hello
            : undefined,
        );
      } catch {
        done(undefined);
      }
    });
  });
}
