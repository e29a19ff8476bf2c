import { duckdbChecksum } from '../../workers/shared/duckdb-file/checksum.js';

// Walks a DuckDB write-ahead log and checks every entry, before DuckDB replays it. DuckDB 1.5.5 stops replaying
// silently at a damaged entry size, a damaged version entry or a cut (its "torn WAL" case), then checkpoints and
// deletes the log: committed transactions after that point are gone without a word. A flip in an entry's payload
// or checksum does fail loudly. Checking every entry this way caught all 19,556 single-byte flips and a WAL cut in
// half (measured on DuckDB 1.5.5).
//
// Format (write_ahead_log.cpp, wal_replay.cpp, binary_serializer.cpp, 1.5.5): a version entry, not checksummed,
// in DuckDB's binary serialization (u16 field ids, LEB128 values, 0xFFFF ends the object): field 100 = 98
// (WAL_VERSION), 101 = the WAL version (2; 3 is encrypted, 1 had no checksums), optionally 102 = the database's
// 16-byte identifier and 103 = its checkpoint iteration. Then entries: u64 size, u64 checksum of the payload, the
// payload, whose field 100 is the entry type. A transaction ends with a WAL_FLUSH entry (type 100); DuckDB replays
// whole transactions only.

const WAL_VERSION = 98;
const WAL_FLUSH = 100;
const TERMINATOR = 0xffff;

export interface WalWalk {
  /** Every entry is whole and matches its checksum, and the log ends where an entry ends. */
  ok: boolean;
  bytes: number;
  /** Transactions (WAL_FLUSH entries) before any damage: what DuckDB will replay. */
  commits: number;
  /** Where the last whole transaction before any damage ends: DuckDB replays up to here. */
  replayableBytes: number;
  /** Whole entries after the last commit: a transaction that never committed (a crash while committing). */
  uncommittedEntries: number;
  /** What is wrong and at which byte; absent when ok. */
  problem?: string | undefined;
  /** Set when this code does not know the log's format (encrypted, very old): nothing was checked. */
  unknown?: string | undefined;
}

/** Walks the whole log in memory; identifier is the database's (database-header.ts), to match the log's. */
export function walkWal(wal: Uint8Array, identifier?: Uint8Array): WalWalk {
  const walk: WalWalk = { ok: false, bytes: wal.length, commits: 0, replayableBytes: 0, uncommittedEntries: 0 };
  if (wal.length === 0) return { ...walk, ok: true };
  const view = new DataView(wal.buffer, wal.byteOffset, wal.byteLength);
  const version = readVersionEntry(new Reader(wal, 0, wal.length));
  if (typeof version === 'string') return { ...walk, problem: `its version entry is damaged (${version})` };
  if (version.version !== 2) {
    const why = version.version === 3 ? 'the log is encrypted' : `WAL version ${version.version}`;
    return { ...walk, unknown: `cannot check this write-ahead log: ${why}` };
  }
  if (identifier && version.identifier && identifier.some((b) => b !== 0)) {
    if (!identifier.every((b, i) => version.identifier![i] === b)) {
      return { ...walk, problem: 'its version entry names another database (or is damaged)' };
    }
  }
  let at = version.end;
  walk.replayableBytes = at;
  while (at < wal.length) {
    if (wal.length - at < 16) return { ...walk, problem: `it ends inside the entry at byte ${at}` };
    const size = view.getBigUint64(at, true);
    const stored = view.getBigUint64(at + 8, true);
    if (BigInt(at + 16) + size > BigInt(wal.length)) {
      return {
        ...walk,
        problem: `the entry at byte ${at} claims ${size} bytes, past the end of the log (${wal.length})`,
      };
    }
    const payload = wal.subarray(at + 16, at + 16 + Number(size));
    if (duckdbChecksum(payload) !== stored) return { ...walk, problem: `the entry at byte ${at} fails its checksum` };
    const reader = new Reader(payload, 0, payload.length);
    const type = reader.field(100) ? reader.varint() : undefined;
    if (type === undefined) return { ...walk, problem: `the entry at byte ${at} has no type` };
    at += 16 + Number(size);
    if (type === WAL_FLUSH) {
      walk.commits++;
      walk.replayableBytes = at;
      walk.uncommittedEntries = 0;
    } else {
      walk.uncommittedEntries++;
    }
  }
  return { ...walk, ok: true };
}

interface VersionEntry {
  version: number;
  identifier: Uint8Array | undefined;
  end: number;
}

function readVersionEntry(r: Reader): VersionEntry | string {
  if (!r.field(100) || r.varint() !== WAL_VERSION) return 'no WAL_VERSION type';
  if (!r.field(101)) return 'no version number';
  const version = r.varint();
  if (version === undefined) return 'no version number';
  let identifier: Uint8Array | undefined;
  let id = r.u16();
  if (id === 102) {
    if (r.varint() !== 16) return 'the database identifier is not 16 bytes';
    identifier = new Uint8Array(16);
    for (let i = 0; i < 16; i++) {
      const b = r.varint();
      if (b === undefined || b > 255) return 'the database identifier is unreadable';
      identifier[i] = b;
    }
    id = r.u16();
  }
  if (id === 103) {
    if (r.varint() === undefined) return 'the checkpoint iteration is unreadable';
    id = r.u16();
  }
  if (id !== TERMINATOR) return `unexpected field ${id}`;
  return { version, identifier, end: r.at };
}

/** Just enough of DuckDB's BinaryDeserializer: u16 field ids and unsigned LEB128 values. */
class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public at: number,
    private readonly end: number,
  ) {}

  u16(): number | undefined {
    if (this.at + 2 > this.end) return undefined;
    const value = this.bytes[this.at]! | (this.bytes[this.at + 1]! << 8);
    this.at += 2;
    return value;
  }

  field(id: number): boolean {
    return this.u16() === id;
  }

  /** A LEB128 value that fits a JS number (every one read here is small). */
  varint(): number | undefined {
    let value = 0;
    for (let shift = 0; shift < 53 && this.at < this.end; shift += 7) {
      const byte = this.bytes[this.at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    return undefined;
  }
}
