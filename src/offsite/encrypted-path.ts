import fs from 'node:fs';
import path from 'node:path';
import { readManifest } from '../backup/manifest.js';
import { AGE_SUFFIX, isEncrypted } from '../backup/types.js';
import type { BackupManifest } from '../backup/types.js';

// Which local paths name an age-encrypted backup (`backup --encrypt`): `NAME.db.age` beside `NAME.db.manifest.json`.
// A user may type either the .age file (what `ls` shows) or the plaintext name (what the manifest calls it and
// `backup list` sorts by); both lead here. Kept free of age and S3 imports: the verify and restore commands ask
// it for every local path.

export interface EncryptedBackup {
  /** The stored file: NAME.db.age. */
  agePath: string;
  /** The name the manifest describes (NAME.db), which does not exist on disk. */
  plainPath: string;
  manifest: BackupManifest;
}

export function encryptedBackupAt(file: string): EncryptedBackup | undefined {
  const resolved = path.resolve(file);
  const plainPath = resolved.endsWith(AGE_SUFFIX) ? resolved.slice(0, -AGE_SUFFIX.length) : resolved;
  // A plaintext backup at the name is what the user means, whatever manifest sits beside it.
  if (plainPath === resolved && fs.existsSync(resolved)) return undefined;
  const read = readManifest(plainPath);
  if (!read.ok || !isEncrypted(read.manifest)) return undefined;
  return { agePath: plainPath + AGE_SUFFIX, plainPath, manifest: read.manifest };
}
