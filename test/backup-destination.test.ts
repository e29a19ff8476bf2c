import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultBackupName, resolveDestination } from '../src/backup/destination.js';
import { tempDir } from './helpers/temp-dir.js';

const at = new Date(2025, 9, 30, 14, 30, 22); // local time, as default backup names use

describe('backup destination', () => {
  it('names a default backup memory-YYYY-MM-DD-HHMMSS.db in the working directory', () => {
    const cwd = tempDir();
    expect(defaultBackupName(at)).toBe('memory-2025-10-30-143022.db');
    expect(resolveDestination({ cwd, now: at })).toEqual({
      path: path.join(cwd, 'memory-2025-10-30-143022.db'),
      defaultName: true,
    });
  });

  it('puts the default name in the given directory (auto-backup) and never reuses an existing name', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'memory-2025-10-30-143022.db'), 'earlier backup');
    fs.writeFileSync(path.join(dir, 'memory-2025-10-30-143022-2.db'), 'another');
    expect(resolveDestination({ directory: dir, now: at }).path).toBe(path.join(dir, 'memory-2025-10-30-143022-3.db'));
  });

  it('resolves a relative path against the working directory and expands ~', () => {
    const cwd = tempDir();
    expect(resolveDestination({ destination: 'b/x.db', cwd }).path).toBe(path.join(cwd, 'b', 'x.db'));
    expect(resolveDestination({ destination: '~/backups/x.db', cwd }).path).toBe(
      path.join(os.homedir(), 'backups', 'x.db'),
    );
    expect(resolveDestination({ destination: '~', cwd, now: at }).path).toBe(
      path.join(os.homedir(), 'memory-2025-10-30-143022.db'),
    );
  });

  it('drops surrounding quotes, keeping spaces inside the name', () => {
    const cwd = tempDir();
    expect(resolveDestination({ destination: '"my backups/a b.db"', cwd }).path).toBe(
      path.join(cwd, 'my backups', 'a b.db'),
    );
    expect(resolveDestination({ destination: "'x.db'", cwd }).path).toBe(path.join(cwd, 'x.db'));
  });

  it('writes into an existing directory, or a path ending in a slash, under the default name', () => {
    const cwd = tempDir();
    fs.mkdirSync(path.join(cwd, 'existing'));
    expect(resolveDestination({ destination: 'existing', cwd, now: at })).toEqual({
      path: path.join(cwd, 'existing', 'memory-2025-10-30-143022.db'),
      defaultName: true,
    });
    expect(resolveDestination({ destination: 'new-dir/', cwd, now: at }).path).toBe(
      path.join(cwd, 'new-dir', 'memory-2025-10-30-143022.db'),
    );
  });
});
