import type { BackupManifest } from '../backup/types.js';
import type { EncryptionInfo } from './encryption.js';

// The manifest of an offsite backup: the local manifest it was uploaded from (the plaintext's size, hash and
// table figures, which verify and restore check after downloading), plus what is stored: the object's key, its
// size and SHA-256 (checked while it downloads, before anything is decrypted), and how it is encrypted. It is
// uploaded last, so its presence is the commit marker: an object without it is never listed as a backup.

export const STORED_HASH = 'sha256';

export interface StoredObject {
  key: string;
  sizeBytes: number;
  hash: { algorithm: typeof STORED_HASH; value: string };
}

export interface RemoteManifest extends BackupManifest {
  /** null: stored as plaintext (uploaded with --no-encrypt). */
  encryption: EncryptionInfo | null;
  stored: StoredObject;
  uploadedAt: string;
}

/** Why a downloaded manifest cannot be used, or undefined when it can. */
export function remoteManifestProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return 'manifest is not an object';
  const m = data as Partial<RemoteManifest>;
  if (m.format !== 'nu-agent-backup') return 'not a nu-agent backup manifest';
  if (m.formatVersion !== 1) return `unsupported manifest version ${String(m.formatVersion)}`;
  if (typeof m.sizeBytes !== 'number' || typeof m.hash?.value !== 'string')
    return 'manifest lacks the plaintext size or hash';
  if (typeof m.tables !== 'object' || m.tables === null) return 'manifest lacks the table figures';
  if (typeof m.createdAt !== 'string' || Number.isNaN(Date.parse(m.createdAt))) return 'manifest lacks a valid time';
  const s = m.stored;
  if (typeof s?.key !== 'string' || typeof s.sizeBytes !== 'number' || s.hash?.algorithm !== STORED_HASH)
    return 'manifest lacks the stored object (key, size, sha256)';
  if (m.encryption !== null && (m.encryption?.format !== 'age' || !['x25519', 'scrypt'].includes(m.encryption.mode)))
    return 'manifest names an unknown encryption';
  return undefined;
}

/** The plain manifest to write beside a downloaded or decrypted copy, so verify and restore read it as usual. */
export function localManifestOf(stored: BackupManifest & { uploadedAt?: string }, fileName: string): BackupManifest {
  const { encryption: _e, stored: _s, uploadedAt: _u, ...local } = stored;
  return { ...local, fileName };
}
