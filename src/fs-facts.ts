import fs from 'node:fs';
import path from 'node:path';

// Small questions about files that several parts ask, answered one way: a missing file is an answer
// (undefined), never an exception.

/** The size of file in bytes, or undefined when it cannot be read. */
export function fileSize(file: string): number | undefined {
  try {
    return fs.statSync(file).size;
  } catch {
    return undefined;
  }
}

/** The names in dir, or undefined when it cannot be listed (missing, not a directory, not ours to read). */
export function namesIn(dir: string): string[] | undefined {
  try {
    return fs.readdirSync(dir);
  } catch {
    return undefined;
  }
}

/**
 * The real path of p (links and `..` resolved), or, when p does not exist yet, the real path of its nearest
 * existing ancestor joined with the rest: two names of one file always compare equal.
 */
export function realPathOf(p: string): string {
  const absolute = path.resolve(p);
  try {
    return fs.realpathSync(absolute);
  } catch {
    const parent = path.dirname(absolute);
    if (parent === absolute) return absolute;
    return path.join(realPathOf(parent), path.basename(absolute));
  }
}
