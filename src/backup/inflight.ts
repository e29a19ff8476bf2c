import fs from 'node:fs';
import path from 'node:path';
import { isAlive, removeStaleTempFiles } from '../../workers/copy-engine/durable-file.js';

// A crash (SIGKILL, power loss) during the copy leaves a temporary file beside the destination, wherever the
// user pointed the backup. Before the copy starts, a small journal beside the database names that temporary
// file; start-up reads it and removes what a dead process left. Nothing at the final name is ever at risk: the
// final name only ever receives a complete, verified, fsynced file by rename.

export interface InflightNote {
  pid: number;
  temp: string;
  destination: string;
  startedAt: string;
}

export const inflightPathFor = (lockPath: string) => `${lockPath}.inflight.json`;

export function noteInflight(lockPath: string, note: Omit<InflightNote, 'pid' | 'startedAt'>): void {
  const full: InflightNote = { pid: process.pid, startedAt: new Date().toISOString(), ...note };
  fs.writeFileSync(inflightPathFor(lockPath), JSON.stringify(full) + '\n', { mode: 0o600 });
}

export function clearInflight(lockPath: string): void {
  fs.rmSync(inflightPathFor(lockPath), { force: true });
}

/** Removes the temporary files a crashed backup left (its own, and any others in that directory). */
export function cleanupAfterCrash(lockPath: string): string[] {
  const file = inflightPathFor(lockPath);
  let note: InflightNote;
  try {
    note = JSON.parse(fs.readFileSync(file, 'utf8')) as InflightNote;
  } catch {
    return [];
  }
  if (note.pid !== process.pid && isAlive(note.pid)) return []; // another nu-agent is copying right now
  const removed: string[] = [];
  if (typeof note.temp === 'string' && fs.existsSync(note.temp)) {
    fs.rmSync(note.temp, { force: true });
    removed.push(note.temp);
  }
  if (typeof note.temp === 'string') {
    for (const stale of removeStaleTempFiles(path.dirname(note.temp)))
      if (!removed.includes(stale)) removed.push(stale);
  }
  fs.rmSync(file, { force: true });
  return removed;
}
