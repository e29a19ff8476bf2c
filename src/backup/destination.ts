import fs from 'node:fs';
import path from 'node:path';
import { nameStamp } from '../format/time.js';
import { expandHome } from '../paths.js';

// Where a backup goes. No destination gives `memory-YYYY-MM-DD-HHMMSS.db` (local time) in the working
// directory, and `~` expands. The result is always absolute (so the path printed can be used from anywhere),
// an existing directory (or a path ending in `/`) receives the default name inside it instead of
// being copied over, surrounding quotes are dropped, and a default name never replaces an existing file: a
// second backup in the same second gets `-2`, `-3`, …

/** `memory-2025-10-30-143022.db`, in local time, as users' scripts expect it. */
export function defaultBackupName(now: Date): string {
  return `memory-${nameStamp(now)}.db`;
}

export interface DestinationInput {
  /** As typed; undefined for the default name. */
  destination?: string | undefined;
  /** Where the default name goes (auto-backup's directory); the working directory when undefined. */
  directory?: string | undefined;
  cwd?: string;
  now?: Date;
}

export interface ResolvedDestination {
  /** Absolute path of the backup file. */
  path: string;
  /** True when the name was chosen by us (and so must not collide with an existing file). */
  defaultName: boolean;
}

export function resolveDestination(input: DestinationInput): ResolvedDestination {
  const cwd = input.cwd ?? process.cwd();
  const now = input.now ?? new Date();
  const typed = input.destination === undefined ? undefined : unquote(input.destination.trim());
  if (typed === undefined || typed === '') {
    const dir = path.resolve(cwd, expandHome(input.directory ?? '.'));
    return { path: freeDefaultName(dir, now), defaultName: true };
  }
  const expanded = path.resolve(cwd, expandHome(typed));
  if (typed.endsWith('/') || typed.endsWith(path.sep) || isDirectory(expanded)) {
    return { path: freeDefaultName(expanded, now), defaultName: true };
  }
  return { path: expanded, defaultName: false };
}

function unquote(text: string): string {
  const first = text[0];
  if (text.length >= 2 && (first === '"' || first === "'") && text.endsWith(first)) return text.slice(1, -1);
  return text;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function freeDefaultName(dir: string, now: Date): string {
  const name = defaultBackupName(now);
  let candidate = path.join(dir, name);
  for (let n = 2; fs.existsSync(candidate); n++) candidate = path.join(dir, name.replace(/\.db$/, `-${n}.db`));
  return candidate;
}
