import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { namesIn } from '../fs-facts.js';
import { isProcessAlive, ownIdentity } from '../backup/lock-owner.js';

// Which multipart uploads this machine has open, so one left by a dead process (SIGKILL mid-upload) or by a
// server that died before it could be aborted is found and aborted later, and one still being sent by a live
// process never is. S3 lists open uploads with their key and start time only (no metadata, no owner process),
// so the list alone cannot tell "abandoned" from "in progress elsewhere". Each note is written the moment the
// server hands out an upload id and removed once the upload is completed or aborted.
//
// The notes live in NUAGENT_HOME/offsite-uploads (ours, 0700), one file per upload, written by rename; a note
// is trusted only when it is a regular file of this user that nobody else can write, made on this host. A note
// names its process by pid, start time and boot (lock-owner.ts), so an upload whose process died is found even
// when another program has its pid now; a note written before notes carried them is judged by its pid alone.

export interface UploadNote {
  host: string;
  pid: number;
  /** The process's start time and boot (lock-owner.ts ProcessIdentity); absent in notes of older versions. */
  startTicks?: string | undefined;
  bootId?: string | undefined;
  endpoint: string;
  bucket: string;
  key: string;
  uploadId: string;
  startedAt: string;
}

const DIR_NAME = 'offsite-uploads';

const fileFor = (home: string, uploadId: string) =>
  path.join(home, DIR_NAME, `${crypto.createHash('sha256').update(uploadId).digest('hex').slice(0, 32)}.json`);

export function noteUpload(
  home: string,
  note: Omit<UploadNote, 'host' | 'pid' | 'startTicks' | 'bootId' | 'startedAt'>,
): void {
  const dir = path.join(home, DIR_NAME);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const full: UploadNote = { host: os.hostname(), ...ownIdentity(), startedAt: new Date().toISOString(), ...note };
  const file = fileFor(home, note.uploadId);
  const temp = `${file}.${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  try {
    fs.writeFileSync(temp, JSON.stringify(full) + '\n', { mode: 0o600, flag: 'wx' });
    fs.renameSync(temp, file);
  } catch {
    // Without the note, a crash leaves the upload listed as partial and not aborted by us: not worth failing for.
    fs.rmSync(temp, { force: true });
  }
}

export function forgetUpload(home: string, uploadId: string): void {
  fs.rmSync(fileFor(home, uploadId), { force: true });
}

/** Uploads noted on this host, at this endpoint and bucket, under `prefix`, whose process is gone. */
export function abandonedUploads(home: string, where: { endpoint: string; bucket: string; prefix: string }) {
  const dir = path.join(home, DIR_NAME);
  const names = namesIn(dir);
  if (!names) return [];
  const found: UploadNote[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const note = readTrusted(path.join(dir, name));
    if (!note || note.host !== os.hostname() || note.endpoint !== where.endpoint || note.bucket !== where.bucket)
      continue;
    if (!note.key.startsWith(where.prefix) || isProcessAlive(note)) continue;
    found.push(note);
  }
  return found;
}

function readTrusted(file: string): UploadNote | undefined {
  try {
    const stat = fs.lstatSync(file);
    if (!stat.isFile() || stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) return undefined;
    const note = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<UploadNote>;
    const strings = [note.host, note.endpoint, note.bucket, note.key, note.uploadId];
    if (strings.some((s) => typeof s !== 'string') || typeof note.pid !== 'number') return undefined;
    if ([note.startTicks, note.bootId].some((s) => s !== undefined && typeof s !== 'string')) return undefined;
    return note as UploadNote;
  } catch {
    return undefined;
  }
}
