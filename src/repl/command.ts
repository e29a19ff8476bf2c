import type { App } from '../app.js';

/** One REPL command: one file under src/repl/commands/, registered in src/repl/commands/index.ts. */
export interface Command {
  /** Without the slash: "backup". */
  name: string;
  /** Lines for /help: first the usage ("/backup [dest] [--force]"), then what it does. */
  help: string[];
  /** Throws a NuError for anything the user should read as `Error: … / Try: …`. */
  run(args: string[], app: App, signal: AbortSignal): Promise<void>;
}
