import type { Command } from 'commander';
import type { Output } from '../app.js';
import { askRunningAgent, greetRunningAgent } from '../auto-backup/control-client.js';
import type { AskOutcome } from '../auto-backup/control-client.js';
import { controlSocketPath } from '../auto-backup/control-protocol.js';
import type { RequestOp } from '../auto-backup/control-protocol.js';
import type { Hello } from '../auto-backup/control-protocol.js';
import { fromWireError, isNuError } from '../errors.js';
import { resolveDataPaths } from '../paths.js';
import { createRunDisplay } from '../repl/run-display.js';
import { TerminalOutput } from '../repl/terminal-output.js';
import type { WaitHandle } from '../repl/wait-indicator.js';
import type { CliContext } from './context.js';

// `nu-agent backup …` and `nu-agent backup restore …` while a nu-agent REPL holds the database: DuckDB allows
// one writer, so instead of failing with "in use by another process" they ask that REPL over the control
// socket (as `nu-agent auto-backup run` does) and show here what it prints: step lines, the progress bar, the
// result, with the exit code the command has when it runs alone. Ctrl-C asks the REPL to cancel and waits for
// it to say how that ended (a second Ctrl-C leaves at once; the REPL still cancels when the asker is gone).

export interface AskReplOptions {
  op: RequestOp;
  args: string[];
  /** --json: stdout keeps the result alone; no progress display. */
  json?: boolean;
}

/** What a running REPL made of the request: its exit code; undefined when no REPL holds this database. */
export async function askRepl(cli: CliContext, command: Command, options: AskReplOptions): Promise<number | undefined> {
  const debug = Boolean(cli.globalOptions(command).debug);
  const paths = resolveDataPaths(process.env, cli.globalOptions(command).database);
  const out = new TerminalOutput({ isDebug: () => debug, isTTY: options.json ? false : undefined });
  const display = options.json ? undefined : createRunDisplay(out);
  let started: WaitHandle | undefined;
  const begun = () => {
    started?.end();
    started = undefined;
  };
  const cancel = new AbortController();
  let cancelledHere = false;
  const onInterrupt = () => {
    if (cancelledHere) process.exit(130);
    cancelledHere = true;
    process.stderr.write('Cancelling… (Ctrl-C again leaves at once; the running nu-agent still stops the run)\n');
    cancel.abort();
  };
  process.on('SIGINT', onInterrupt);
  let asked: AskOutcome;
  try {
    asked = await askRunningAgent({
      socketPath: controlSocketPath(paths),
      database: paths.database,
      op: options.op,
      args: options.args,
      cwd: process.cwd(),
      signal: cancel.signal,
      onHello: (hello: Hello) => {
        started = out.waits.begin(`the nu-agent running as pid ${hello.pid} to start the ${options.op}`);
      },
      onEvent: (event) => {
        begun();
        display?.onEvent(event);
      },
      onOutput: (message) => {
        begun();
        if (message.line !== undefined) out.line(message.line);
        if (message.error) out.error(fromWireError(message.error));
      },
    });
  } catch (err) {
    cli.fail(err, debug);
    return 1;
  } finally {
    begun();
    display?.stop();
    process.off('SIGINT', onInterrupt);
  }
  if (asked.kind === 'none') {
    out.debug(`no nu-agent answers for this database (${asked.why}); opening it here`);
    return undefined;
  }
  out.debug(`answered by nu-agent pid ${asked.hello.pid}`);
  const { result } = asked;
  for (const line of result.lines) out.line(line);
  if (result.error) report(out, fromWireError(result.error), cancelledHere);
  return result.exitCode;
}

/** True when a nu-agent REPL answers on the control socket for this database (it greets; nothing is asked). */
export async function replHoldsDatabase(cli: CliContext, command: Command): Promise<Hello | undefined> {
  const paths = resolveDataPaths(process.env, cli.globalOptions(command).database);
  return greetRunningAgent(controlSocketPath(paths), paths.database);
}

/** The user's own Ctrl-C is said plainly; anything else is an error. */
function report(out: Output, err: Error, cancelledHere: boolean): void {
  if (cancelledHere && isNuError(err) && /CANCELLED$/.test(err.code)) {
    process.stderr.write(`${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.\n`);
  } else {
    out.error(err);
  }
}
