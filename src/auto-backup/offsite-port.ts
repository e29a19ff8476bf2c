import type { BackupEvent } from '../backup/types.js';
import type { RetentionPolicy } from './retention-port.js';

// What the auto-backup needs from offsite backups (src/offsite/auto-remote.ts): send one verified local backup to
// the `remote` place and apply the retention there. A seam like the retention port, loaded only when a remote
// is set, so the S3 client stays out of every start that does not use it.

export interface OffsiteSent {
  /** The backup as `backup list|restore s3://…` name it. */
  url: string;
  /** The stored object's key in the bucket (`.age` when encrypted). */
  objectKey: string;
  /** Remote backups removed by the retention. */
  pruned: string[];
  /** Planned removals that did not happen, with why. */
  pruneFailures: string[];
}

export interface OffsitePort {
  send(
    file: string,
    place: string,
    options: {
      policy: RetentionPolicy;
      now: Date;
      signal?: AbortSignal | undefined;
      onEvent?: ((event: BackupEvent) => void) | undefined;
    },
  ): Promise<OffsiteSent>;
}

/** The real port, imported on first use. */
export const lazyOffsitePort: OffsitePort = {
  async send(file, place, options) {
    const { offsiteForAutoBackup } = await import('../offsite/auto-remote.js');
    return offsiteForAutoBackup.send(file, place, options);
  },
};
