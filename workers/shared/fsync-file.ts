import fs from 'node:fs';

// The one durable-write step a copy-engine thread takes itself (its copy, before it returns); the rest of the
// temp file, fsync, rename, fsync the directory sequence runs on the main thread (src/backup/durable-file.ts).

export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
