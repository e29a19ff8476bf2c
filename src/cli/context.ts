import type { Command } from 'commander';
import type { App, Output } from '../app.js';
import { formatError } from '../report.js';

// What a CLI subcommand (src/cli/<name>.ts, listed in src/cli/subcommands.ts) gets to work with. The global
// options --database and --debug belong to the program; `withApp` builds the App from them, so a subcommand
// never resolves paths or opens the database itself, and every subcommand reports errors and exits the same way.

export interface GlobalOptions {
  database?: string | undefined;
  debug?: boolean | undefined;
}

export interface WithAppOptions {
  /** The Output, given a way to ask whether debug is on (for `--json`, say). Defaults to the terminal. */
  makeOutput?: (isDebug: () => boolean) => Output;
  /** Replaces an error of opening the App (a locked database, say) with one that fits this subcommand. */
  openError?: (err: unknown) => unknown;
}

export interface CliContext {
  readonly version: string;
  /** The global options as given on the command line, wherever they appeared. */
  globalOptions(command: Command): GlobalOptions;
  /**
   * Builds the App from the global options and runs `fn` with a signal that aborts on Ctrl-C or SIGTERM.
   * Any error is printed as `Error:`/`Try:` and the exit code becomes 1; otherwise it is what `fn` returned
   * (0 by default). The App is always shut down before this resolves.
   */
  withApp(
    command: Command,
    fn: (app: App, signal: AbortSignal) => Promise<number | void>,
    options?: WithAppOptions,
  ): Promise<void>;
  /** Prints an error the usual way and sets a failing exit code (for work that needs no App). */
  fail(err: unknown, debug?: boolean): void;
}

/** One `nu-agent <name>` subcommand: adds itself (options, help, action) to the program. */
export interface CliSubcommand {
  name: string;
  register(program: Command, cli: CliContext): void;
}

export function createCliContext(version: string): CliContext {
  const fail = (err: unknown, debug = false) => {
    process.stderr.write(formatError(err, debug).join('\n') + '\n');
    process.exitCode = 1;
  };
  const globalOptions = (command: Command) => command.optsWithGlobals<GlobalOptions>();
  return {
    version,
    globalOptions,
    fail,
    async withApp(command, fn, options = {}) {
      const global = globalOptions(command);
      let app;
      try {
        // Loaded here, not at the top: --help and --version should not wait for the database client to load.
        const { createApp } = await import('../app/create-app.js');
        app = await createApp({ database: global.database, debug: global.debug, makeOutput: options.makeOutput });
      } catch (err) {
        fail(options.openError ? options.openError(err) : err, Boolean(global.debug));
        return;
      }
      const controller = new AbortController();
      const abort = () => controller.abort();
      process.on('SIGINT', abort);
      process.on('SIGTERM', abort);
      try {
        process.exitCode = (await fn(app, controller.signal)) ?? 0;
      } catch (err) {
        app.out.error(err);
        process.exitCode = 1;
      } finally {
        process.off('SIGINT', abort);
        process.off('SIGTERM', abort);
        try {
          await app.shutdown();
        } catch (err) {
          app.out.error(err);
          process.exitCode = 1;
        }
      }
    },
  };
}
