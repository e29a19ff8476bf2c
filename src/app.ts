import type { DataPaths } from './paths.js';
import type { ChatMessage, WorkerName, WorkerStatus } from '../workers/shared/protocol.js';
import type { Embedder } from './workers-host/embedder.js';
import type { MemoryStore } from './store/memory-store.js';
import type { BackupOutcome, BackupRequest } from './backup/types.js';
import type { RestoreOutcome, RestoreRequest } from './backup/restore-types.js';
import type { AutoBackupRuntime } from './auto-backup/runtime.js';
import type { Waits } from './repl/wait-indicator.js';

// The context every REPL command, the CLI subcommands, the scheduler and the control socket receive.
// Built once by src/app/create-app.ts, torn down by shutdown().
// Each field is one seam: a real implementation by default, a fake only where a test injects a fault.

/** Where lines go. The REPL writes to the terminal; `--json` CLI commands and the control socket elsewhere. */
export interface Output {
  /** A normal line. */
  line(text: string): void;
  /** `Error: …` / `Try: …` lines (through src/report.ts). */
  error(err: unknown): void;
  /** Shown only when debug is on. */
  debug(text: string): void;
  /** True when stdout is a terminal: prompts, colours and an in-place progress bar. */
  readonly isTTY: boolean;
  /** Part of a line on stdout (a reply as it streams in); the caller ends the line. Absent: lines only. */
  write?(text: string): void;
  /** Lines that say what a slow step waits for (src/repl/wait-indicator.ts). Absent: nothing is shown. */
  readonly waits?: Waits | undefined;
}

export type { ChatMessage };
export interface ChatReply {
  text: string;
  model: string;
  tokensInput?: number | undefined;
  tokensOutput?: number | undefined;
}
/** The chat model (`openai` or `offline`). Summarisers reach it through the main thread too. */
export interface ChatProvider {
  readonly name: 'openai' | 'offline';
  /** A short human description for the banner and /info. */
  readonly description: string;
  /** True when a real model answers; the offline provider returns false and summaries fall back to local ones. */
  readonly available: boolean;
  /**
   * Asks the model. With onText, the reply's text is also handed on piece by piece as it arrives (streamed
   * where the server can); the returned reply is the whole of it either way.
   */
  complete(
    messages: ChatMessage[],
    signal?: AbortSignal,
    onText?: ((text: string) => void) | undefined,
  ): Promise<ChatReply>;
}

/** The background workers, as the backup supervisor and the REPL see them. */
export interface WorkerControl {
  /** Asks every running worker to park at its next safe point. */
  pauseAll(): Promise<void>;
  /** Resolves when every worker asked has parked; rejects on timeout naming those that did not. */
  waitUntilAllPaused(timeoutMs: number): Promise<void>;
  /** Resumes exactly the workers that were running before pauseAll, then pings each within timeoutMs. */
  resumeAll(healthTimeoutMs: number): Promise<void>;
}

/** The workers as the REPL sees them: the pause protocol, plus what /worker and /search need. */
export interface WorkerAdmin extends WorkerControl {
  readonly names: readonly WorkerName[];
  status(): WorkerStatus[];
  /** Starts every worker (the REPL does, for as long as it runs); a one-shot CLI command starts none. */
  startAll(): void;
  start(name: string): void;
  stop(name: string): Promise<void>;
  pause(name: string): void;
  resume(name: string): void;
  /** Wakes idle workers: there are new chat rows to process. */
  nudge(): void;
  /** Where /search gets the vector of its query (the same model as the stored vectors). */
  readonly embedder: Embedder;
}

/** Runs backups through the supervisor machine; the only way anything takes a backup. */
export interface BackupService {
  run(request: BackupRequest): Promise<BackupOutcome>;
  /**
   * Replaces the live database with a verified backup through the same supervisor, inside the same
   * one-run-at-a-time guard; on failure after the replacement the previous database is put back.
   */
  restore(request: RestoreRequest): Promise<RestoreOutcome>;
  /** True while a backup (or restore) runs in this process. */
  readonly busy: boolean;
}

/** What the REPL session is doing: the conversation new chat messages go into. */
export interface Session {
  /** Undefined until the first message (or /new) of this run creates one. */
  conversationId: number | undefined;
  /**
   * Asks the person at the terminal a question and resolves to the line they answer (undefined if input ended).
   * Set by the interactive REPL only: without it nobody can answer, and a command that needs a yes (restore)
   * refuses with a hint instead of waiting.
   */
  ask?: ((question: string, signal: AbortSignal) => Promise<string | undefined>) | undefined;
}

export interface App {
  readonly version: string;
  readonly paths: DataPaths;
  readonly store: MemoryStore;
  readonly provider: ChatProvider;
  readonly workers: WorkerControl;
  /** The same workers, as /worker and /search use them. */
  readonly workerAdmin: WorkerAdmin;
  readonly backups: BackupService;
  /** Scheduled backups: settings, runs, status; the REPL starts its scheduler and control socket. */
  readonly autoBackup: AutoBackupRuntime;
  readonly out: Output;
  readonly session: Session;
  /** Debug output on or off for this run; /debug also persists it (appconfig `debug`). */
  debug: boolean;
}

/** The App as create-app returns it to its owner (the CLI), who alone may shut it down. */
export interface RunningApp extends App {
  /** Stops what was started, in reverse order (workers before the store), then closes the database. Idempotent. */
  shutdown(): Promise<void>;
}
