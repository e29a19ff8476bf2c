import readline from 'node:readline';
import type { App } from '../app.js';
import { isNuError, messageOf, messages } from '../errors.js';
import { addCommandHistory, recentCommands } from '../store/conversations.js';
import { bannerLines } from './banner.js';
import { sendChatMessage } from './chat.js';
import type { Command, CommandResult } from './command.js';
import { commands as registry, findCommand } from './commands/index.js';
import { BRACKETED_PASTE_OFF, BRACKETED_PASTE_ON, LineQueue } from './line-queue.js';
import { parseLine } from './parse-line.js';
import { TerminalOutput } from './terminal-output.js';
import { waitingFor } from './wait-indicator.js';

// The read loop. One line at a time: a `/command` or a chat message, each run to the end before the next line
// is read, each with its own AbortSignal. Interactive (stdin and stdout are a terminal): a prompt, line editing,
// the command history of earlier sessions, Ctrl-C cancels the running command or, at the prompt, warns once and
// quits the second time. Piped: no prompt and no colours; the exit code says whether any line failed.

export const HISTORY_SIZE = 1000;

export interface ReplOptions {
  /** Prompt, line editing, history, Ctrl-C handling. Otherwise one line per command, no prompt. */
  interactive: boolean;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Where a piped REPL puts its banner, so that stdout carries only the answers (stderr by default). */
  errorOutput?: NodeJS.WritableStream;
  /** The commands to offer; the registry by default. */
  commands?: readonly Command[];
  /** Also react to SIGINT/SIGTERM/SIGHUP sent to the process (the CLI does; in-process tests do not). */
  handleSignals?: boolean;
}

/** Runs until /exit, end of input, Ctrl-D or a second Ctrl-C. Resolves to the exit code. */
export async function runRepl(app: App, options: ReplOptions): Promise<number> {
  const { interactive } = options;
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const commands = options.commands ?? registry;
  const history = interactive ? await recentCommands(app.store, HISTORY_SIZE) : [];
  if (interactive) readline.emitKeypressEvents(input);
  const lines = new LineQueue({
    keypresses: interactive ? input : undefined,
    onContinued: () => {
      // Typed ahead while a command runs: its output owns the screen; the prompt comes when it is done.
      if (!interactive || running) return;
      rl.setPrompt('. ');
      rl.prompt();
    },
  });
  // readline echoes what is typed; while a command runs that echo would land on its output (a progress bar),
  // so it is held back and shown with the next prompt (rl.prompt() redraws the line typed so far).
  const echo = { muted: false };
  const rl = readline.createInterface({
    input,
    output: interactive ? mutable(output, echo) : undefined,
    terminal: interactive,
    prompt: '> ',
    history,
    historySize: HISTORY_SIZE,
  });
  lines.attach(rl);
  if (interactive) {
    // A command that needs a yes (/backup restore) asks through the session. readline hands the next line to a
    // pending question instead of emitting 'line', so the answer never reaches the queue as a command.
    app.session.ask = (question, signal) =>
      new Promise((resolve) => {
        if (signal.aborted) return resolve(undefined);
        const done = (answer: string | undefined) => {
          signal.removeEventListener('abort', aborted);
          rl.off('close', closed);
          resolve(answer);
        };
        const aborted = () => done(undefined);
        const closed = () => done(undefined);
        signal.addEventListener('abort', aborted, { once: true });
        rl.once('close', closed);
        // The answer is typed while the command runs: let it show.
        echo.muted = false;
        rl.question(question, { signal }, (answer) => {
          echo.muted = running !== undefined;
          done(answer);
        });
      });
  }
  let running: AbortController | undefined;
  let warnedAtPrompt = false;

  const onInterrupt = () => {
    if (running) {
      if (!running.signal.aborted) {
        // Said at once: what the command still has to undo (resume the workers, reopen) can take a while.
        app.out.line('Cancelling…');
        running.abort();
      } else app.out.line('Still stopping the command; please wait.');
    } else if (interactive && (rl.line || lines.hasPending)) {
      // Like a shell: Ctrl-C drops what was typed (and a paste or continued lines waiting for Enter).
      rl.write(null, { ctrl: true, name: 'e' });
      rl.write(null, { ctrl: true, name: 'u' });
      if (lines.hasPending) {
        lines.discardPending();
        output.write('\n');
        rl.setPrompt('> ');
        rl.prompt();
      }
    } else if (warnedAtPrompt || !interactive) {
      lines.stop();
    } else {
      warnedAtPrompt = true;
      app.out.line('(To exit, press Ctrl-C again or Ctrl-D, or type /exit.)');
    }
  };
  const onTerminate = () => {
    running?.abort();
    lines.stop();
  };
  rl.on('SIGINT', onInterrupt);
  if (options.handleSignals) {
    process.on('SIGINT', onInterrupt);
    process.on('SIGTERM', onTerminate);
    process.on('SIGHUP', onTerminate);
  }
  const terminal = interactive && app.out instanceof TerminalOutput ? app.out : undefined;
  const guard = {
    hide: () => {
      readline.cursorTo(output, 0);
      readline.clearLine(output, 0);
    },
    show: () => rl.prompt(true),
  };

  let failed = false;
  try {
    const banner = bannerLines(app);
    if (interactive) for (const line of banner) app.out.line(line);
    else (options.errorOutput ?? process.stderr).write(banner.join('\n') + '\n');
    if (interactive) output.write(BRACKETED_PASTE_ON);
    // Scheduled backups and the control socket live exactly as long as the REPL.
    await app.autoBackup.startBackground();
    // So do the background workers; shutdown stops them before the store closes.
    app.workerAdmin.startAll();
    for (;;) {
      for (const notice of app.autoBackup.takeNotices()) app.out.line(`Notice: ${notice}`);
      if (interactive) {
        rl.setPrompt('> ');
        rl.prompt(true); // true: the cursor stays after what was typed ahead
        terminal?.setPromptGuard(guard);
      }
      // A line typed ahead while the last command ran was not echoed: show it after its prompt.
      const typedAhead = interactive && lines.ready;
      // A notice from the scheduler while we wait (a skipped or failed run) shows at once, above the prompt.
      app.autoBackup.onNotice((notice) => app.out.line(`Notice: ${notice}`));
      const line = await lines.next();
      app.autoBackup.onNotice(undefined);
      if (typedAhead && line !== undefined) output.write(`${line}\n`);
      terminal?.setPromptGuard(undefined);
      if (line === undefined) {
        if (interactive) output.write('\n');
        break;
      }
      warnedAtPrompt = false;
      const parsed = parseLine(line);
      if (parsed.kind === 'empty') continue;
      // Not awaited: a backup holding the database must not keep the line from running (it queues behind).
      addCommandHistory(app.store, line.trim()).catch((err) =>
        app.out.debug(`command history not saved: ${messageOf(err)}`),
      );
      const controller = new AbortController();
      running = controller;
      echo.muted = interactive;
      try {
        let result: CommandResult = undefined;
        if (parsed.kind === 'chat') {
          await sendChatMessage(app, parsed.text, controller.signal);
          app.workerAdmin.nudge(); // a completed exchange is new work for the summarisers
        } else {
          const command = findCommand(commands, parsed.name);
          if (!command) throw messages.unknownCommand(`/${parsed.name}`);
          result = await command.run(parsed.args, app, controller.signal);
        }
        if (result === 'exit') break;
      } catch (err) {
        failed = true;
        const what = parsed.kind === 'chat' ? 'the chat message' : `/${parsed.name}`;
        // The user's own Ctrl-C is not an error: one plain line says what became of the command.
        if (controller.signal.aborted && isCancellation(err)) app.out.line(cancelledLine(err, what));
        else app.out.error(err);
      } finally {
        running = undefined;
        echo.muted = false;
      }
    }
  } finally {
    terminal?.setPromptGuard(undefined);
    app.session.ask = undefined;
    rl.off('SIGINT', onInterrupt);
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onTerminate);
    process.off('SIGHUP', onTerminate);
    rl.close();
    if (interactive) output.write(BRACKETED_PASTE_OFF);
    await waitingFor(app.out.waits, 'scheduled backups and the control socket to stop', () =>
      app.autoBackup.stopBackground(),
    ).catch((err) => app.out.error(err));
  }
  // Only a script cares; at a terminal the person saw each error as it happened.
  return failed && !interactive ? 1 : 0;
}

/** An error that only says the command was cancelled (anything else that went wrong is still an error). */
function isCancellation(err: unknown): boolean {
  return !isNuError(err) || err.code === 'CANCELLED' || err.code === 'BACKUP_CANCELLED';
}

function cancelledLine(err: unknown, what: string): string {
  const text = isNuError(err) ? err.message : messages.cancelled(what).message;
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

/** The terminal as readline sees it, with its writes dropped while `state.muted` (everything else as is). */
function mutable(output: NodeJS.WritableStream, state: { muted: boolean }): NodeJS.WritableStream {
  return new Proxy(output, {
    get(target, property) {
      if (property === 'write' && state.muted) return () => true;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
