import fs from 'node:fs';
import path from 'node:path';
import { ARRAY, DuckDBInstance, FLOAT, arrayValue } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import { NuError, messages } from '../errors.js';
import { readTableCounts, readTableFigures } from '../../workers/shared/table-figures.js';
import type { TableCounts, TableFigures } from '../../workers/shared/table-figures.js';
import { ExclusiveQueue } from './exclusive-queue.js';
import { afterOpen, checkBeforeOpen, discardCopies } from './open-checks.js';
import { openError } from './open-errors.js';
import { migrate } from './migrate.js';

// The database owner. Exactly one DuckDBInstance per file per process, owned by one thread.
// This module (and src/store/*) is the only code in src/ that imports the DuckDB client; every other component
// reaches the memory through a MemoryStore, and worker threads through the port built on it, so nothing ever
// keeps a handle that a close/reopen could leave stale.
//
// The instance is an in-memory one that lives as long as the store, and the memory file is ATTACHed to it (and
// made the connection's default with USE). A backup's close is a DETACH and its reopen an ATTACH: DETACH
// checkpoints, deletes the WAL and releases the file and its lock like closing an instance does, but starting an
// instance (extensions, threads, buffer manager: nothing to do with the file) cost 70-150 ms and tearing one down
// after a busy hour 80-400 ms at 1 GiB, all of it inside the window the workers stay paused
// (`npm run bench`, README "Performance"); DETACH took 3 ms and ATTACH 12-40 ms.

/** A FLOAT[N] value, for embeddings. Bound with its exact array type (measured on DuckDB 1.5.5). */
export class FloatVector {
  constructor(readonly values: readonly number[]) {}
}

export type SqlParam = string | number | bigint | boolean | null | FloatVector;
export type Row = Record<string, unknown>;

/** What one can run SQL through: the store itself (queued) or a transaction / a hold (already exclusive). */
export interface SqlRunner {
  all<T extends Row = Row>(sql: string, params?: SqlParam[]): Promise<T[]>;
  run(sql: string, params?: SqlParam[]): Promise<void>;
}

/** Exclusive access for a backup or restore: the write gate is closed until release(). */
export interface HeldDatabase extends SqlRunner {
  readonly path: string;
  readonly isOpen: boolean;
  /** FORCE CHECKPOINT, bounded: on timeout the statement is interrupted and this rejects. */
  checkpoint(timeoutMs: number): Promise<void>;
  tableFigures(): Promise<TableFigures>;
  /** The row count of each table, from DuckDB's metadata: cheap enough for the pause window. */
  tableCounts(): Promise<TableCounts>;
  /** Closes connection and instance, releasing the file; rejects if a WAL is left behind. */
  close(): Promise<void>;
  /** Opens the same resolved path again (never re-derived from the environment). */
  reopen(): Promise<void>;
  /** Opens the gate; queued operations proceed. */
  release(): void;
}

export interface StoreOptions {
  /** Created with mode 0700 when missing (the default data directory). Other parents must exist. */
  createParentDir?: boolean;
  /** Where warnings found while opening go (a damaged write-ahead log, open-checks.ts); stderr by default. */
  onNotice?: ((line: string) => void) | undefined;
}

const DUCKDB_OPTIONS = {
  // Offline by default: an extension that is not built in must fail loudly, never download (measured on DuckDB 1.5.5).
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
};

export const walPaths = (dbPath: string) => [`${dbPath}.wal`, `${dbPath}.wal.checkpoint`];

/**
 * The catalog name of the attached memory file. Fixed, not the file's stem: the stem of the default `memory.db`
 * is the name of the instance's own in-memory catalog. SQL here never names a catalog (current_database()).
 */
const CATALOG = 'nu_memory';
const IN_MEMORY_CATALOG = 'memory';
const sqlString = (text: string) => `'${text.replaceAll("'", "''")}'`;

export class MemoryStore implements SqlRunner {
  /** The in-memory instance and its one connection: made once, kept across a backup's DETACH and ATTACH. */
  private session: { instance: DuckDBInstance; connection: DuckDBConnection } | undefined;
  /** The session's connection while the memory file is attached; undefined while it is detached. */
  private connection: DuckDBConnection | undefined;
  private readonly queue = new ExclusiveQueue();
  private holding = false;
  /** Set when a holder released the gate with the database still closed (every reopen attempt failed). */
  private lostWith: unknown;

  private constructor(
    readonly path: string,
    private readonly notice: (line: string) => void,
  ) {}

  static async open(dbPath: string, options: StoreOptions = {}): Promise<MemoryStore> {
    const resolved = path.resolve(dbPath);
    prepareParentDir(resolved, options.createParentDir ?? false);
    const store = new MemoryStore(resolved, options.onNotice ?? ((line) => process.stderr.write(`${line}\n`)));
    try {
      await store.connect();
      await migrate(store.direct(), resolved, fs.existsSync(resolved));
    } catch (err) {
      await store.disconnect(true).catch(() => undefined);
      throw err;
    }
    return store;
  }

  get isOpen(): boolean {
    return this.connection !== undefined;
  }

  /** True while a backup or restore holds the database. */
  get held(): boolean {
    return this.holding;
  }

  all<T extends Row = Row>(sql: string, params: SqlParam[] = []): Promise<T[]> {
    return this.queue.run(async () => {
      await this.recoverIfLost();
      return this.direct().all<T>(sql, params);
    });
  }

  run(sql: string, params: SqlParam[] = []): Promise<void> {
    return this.queue.run(async () => {
      await this.recoverIfLost();
      await this.direct().run(sql, params);
    });
  }

  /** Runs fn inside BEGIN … COMMIT, rolled back if it throws. Nothing else runs on the connection meanwhile. */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      await this.recoverIfLost();
      const tx = this.direct();
      await tx.run('BEGIN TRANSACTION');
      try {
        const result = await fn(tx);
        await tx.run('COMMIT');
        return result;
      } catch (err) {
        await tx.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * What a backup runs before it pauses anything, through the queue like any operation (so it never meets another
   * transaction on our connection): a plain CHECKPOINT, so the forced one inside the pause has only what was
   * written since, then the row counts read once and dropped, so that the counts inside the pause find everything
   * they need ready (in a process that had just started, `nu-agent backup`, they took 55-90 ms inside the window
   * cold and 5-7 ms after this).
   */
  flush(): Promise<void> {
    return this.queue.run(async () => {
      await this.recoverIfLost();
      await this.direct().run('CHECKPOINT');
      await readTableCounts(this.requireConnection('flush'));
    });
  }

  /**
   * Closes the write gate: waits (at most timeoutMs) for the operation in flight to finish, then keeps every
   * later one waiting until release(). The in-flight statement is interrupted if the wait times out.
   */
  async hold(timeoutMs: number): Promise<HeldDatabase> {
    const release = await this.queue.acquire(timeoutMs, () => this.connection?.interrupt());
    this.holding = true;
    let released = false;
    const runner = () => this.direct();
    const isOpen = () => this.isOpen;
    return {
      path: this.path,
      get isOpen() {
        return isOpen();
      },
      all: (sql, params) => runner().all(sql, params),
      run: (sql, params) => runner().run(sql, params),
      checkpoint: (ms) => this.checkpoint(ms),
      tableFigures: () => readTableFigures(this.requireConnection('tableFigures')),
      tableCounts: () => readTableCounts(this.requireConnection('tableCounts')),
      close: () => this.closeAndCheckWal(false),
      reopen: async () => {
        try {
          await this.connect();
          this.lostWith = undefined;
        } catch (err) {
          this.lostWith = err;
          throw err;
        }
      },
      release: () => {
        if (released) return;
        released = true;
        this.holding = false;
        release();
      },
    };
  }

  /** Shuts down for good (end of the program): waits for queued work, then closes and checks the WAL. */
  async close(): Promise<void> {
    await this.queue.run(async () => {
      if (this.session) await this.closeAndCheckWal(true);
    });
  }

  fileSize(): number {
    try {
      return fs.statSync(this.path).size;
    } catch {
      return 0;
    }
  }

  // ---- internals ----

  private async connect(): Promise<void> {
    if (this.connection) return;
    // Before DuckDB touches the file: refuse one cut short, keep and walk any write-ahead log (open-checks.ts).
    const kept = checkBeforeOpen(this.path);
    try {
      this.session ??= await startSession(this.path);
      // One statement: a failed ATTACH runs no USE, and nothing is left attached to detach.
      await this.session.connection.run(`ATTACH ${sqlString(this.path)} AS ${CATALOG}; USE ${CATALOG}`);
      this.connection = this.session.connection;
    } catch (err) {
      // The instance stays for the next attempt (a backup's reopen retries; recoverIfLost tries again later).
      const error = openError(this.path, err);
      // Another process has it open: its log is live and DuckDB did not touch it here, so the copies are
      // pointless. After any other failure they stay: DuckDB may have replayed or cut the log already.
      if (error instanceof NuError && error.code === 'DB_LOCKED') discardCopies(kept);
      throw error;
    }
    for (const line of afterOpen(this.path, kept)) this.notice(line);
  }

  /**
   * Releases the file: DETACH checkpoints, deletes the WAL and drops the file's lock; `andInstance` also ends the
   * instance (the program ends, or the first open failed). DuckDB refuses to detach a database with a transaction
   * open on it; the store never leaves one open (transaction() always commits or rolls back).
   */
  private async disconnect(andInstance: boolean): Promise<void> {
    const session = this.session;
    if (!session) return;
    try {
      if (this.connection) {
        await session.connection.run(`USE ${IN_MEMORY_CATALOG}`); // the default database cannot be detached
        try {
          await session.connection.run(`DETACH ${CATALOG}`);
        } catch (err) {
          // Refused: the file stays attached and in service, and every statement must still reach it.
          await session.connection.run(`USE ${CATALOG}`).catch(() => undefined);
          throw err;
        }
      }
      this.connection = undefined;
    } finally {
      if (andInstance) {
        // Order matters: DuckDB keeps the instance while any connection is alive (measured on DuckDB 1.5.5).
        this.session = undefined;
        this.connection = undefined;
        session.connection.closeSync();
        session.instance.closeSync();
      }
    }
  }

  private async closeAndCheckWal(andInstance: boolean): Promise<void> {
    await this.disconnect(andInstance);
    const left = walPaths(this.path).find((p) => fs.existsSync(p));
    if (left) throw messages.walRemains(left);
  }

  private async checkpoint(timeoutMs: number): Promise<void> {
    const connection = this.requireConnection('checkpoint');
    const timer = setTimeout(() => connection.interrupt(), timeoutMs);
    try {
      await connection.run('FORCE CHECKPOINT');
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * After a backup or restore whose every reopen attempt failed (another process grabbed the file, say), each
   * later operation tries once more, so the program recovers by itself when the cause goes away, and otherwise
   * says what happened instead of failing with a bare "closed".
   */
  private async recoverIfLost(): Promise<void> {
    if (this.connection || this.lostWith === undefined) return;
    try {
      await this.connect();
      this.lostWith = undefined;
    } catch (err) {
      this.lostWith = err;
    }
  }

  private requireConnection(op: string): DuckDBConnection {
    if (!this.connection) {
      throw this.lostWith === undefined ? messages.databaseClosed(op) : messages.databaseLost(this.path, this.lostWith);
    }
    return this.connection;
  }

  /** Runs straight on the connection; only for code that already owns the queue. */
  private direct(): SqlRunner {
    return {
      all: async <T extends Row>(sql: string, params: SqlParam[] = []) => {
        const [values, types] = bind(params);
        const reader = await this.requireConnection('query').runAndReadAll(sql, values, types);
        return reader.getRowObjectsJS().map((row) => plainRow(row) as T);
      },
      run: async (sql: string, params: SqlParam[] = []) => {
        const [values, types] = bind(params);
        await this.requireConnection('query').run(sql, values, types);
      },
    };
  }
}

/** The in-memory instance the memory file is attached to. Spills go beside the file, as they did when it was the instance's own. */
async function startSession(dbPath: string): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(':memory:', { ...DUCKDB_OPTIONS, temp_directory: `${dbPath}.tmp` });
  try {
    return { instance, connection: await instance.connect() };
  } catch (err) {
    instance.closeSync();
    throw err;
  }
}

function prepareParentDir(dbPath: string, create: boolean): void {
  const dir = path.dirname(dbPath);
  if (!fs.existsSync(dir)) {
    if (!create) throw messages.databaseDirMissing(dir);
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw messages.databaseDirUnwritable(dir, err);
    }
  }
  try {
    // DuckDB writes a WAL beside the file, so the directory must be writable even when the file exists.
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    throw messages.databaseDirUnwritable(dir, err);
  }
  try {
    if (fs.existsSync(dbPath)) fs.accessSync(dbPath, fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    throw messages.databaseFileReadOnly(dbPath, err); // the file is read-only, not its directory
  }
  keepPrivate(dbPath);
}

/**
 * The memory holds every conversation: a file of ours that others may read (DuckDB creates it 0644 under the
 * usual umask) loses its group and other bits. The owner's own bits are left as they are.
 */
function keepPrivate(dbPath: string): void {
  try {
    const stat = fs.lstatSync(dbPath);
    if (stat.isFile() && stat.uid === process.getuid?.() && (stat.mode & 0o077) !== 0)
      fs.chmodSync(dbPath, stat.mode & 0o700);
  } catch {
    // not there yet: created under the CLI's umask 0077
  }
}

// An undefined entry in the types array means "infer from the value" (DuckDBPreparedStatement.bind).
function bind(params: SqlParam[]): [DuckDBValue[], DuckDBType[] | undefined] {
  if (!params.some((p) => p instanceof FloatVector)) return [params as DuckDBValue[], undefined];
  const values: DuckDBValue[] = [];
  const types: (DuckDBType | undefined)[] = [];
  for (const p of params) {
    if (p instanceof FloatVector) {
      values.push(arrayValue([...p.values]));
      types.push(ARRAY(FLOAT, p.values.length));
    } else {
      values.push(p);
      types.push(undefined);
    }
  }
  return [values, types as DuckDBType[]];
}

/** BIGINT columns arrive as bigint; callers get numbers (ids and counts stay far below 2^53). */
function plainRow(row: Record<string, unknown>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = typeof v === 'bigint' && Number.isSafeInteger(Number(v)) ? Number(v) : v;
  }
  return out;
}
