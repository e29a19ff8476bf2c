import type { App } from '../app.js';

/** What a command may ask of the REPL when it is done. */
export type CommandResult = 'exit' | void;

/** One REPL command: one file under src/repl/commands/, registered in src/repl/commands/index.ts. */
export interface Command {
  /** Without the slash: "backup". */
  name: string;
  /** Lines for /help: first the usage ("/backup [dest] [--force]"), then what it does. */
  help: string[];
  /**
   * Throws a NuError for anything the user should read as `Error: … / Try: …`; a command that threw counts as
   * failed (a piped REPL then exits non-zero). `signal` aborts when the user presses Ctrl-C.
   */
  run(args: string[], app: App, signal: AbortSignal): Promise<CommandResult>;
}
