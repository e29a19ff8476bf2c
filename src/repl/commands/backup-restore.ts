import type { App } from '../../app.js';
import { parseRestoreArgs } from '../../backup/manage-args.js';
import { createRunDisplay } from '../run-display.js';
import { restoreFromBackup } from '../../backup/restore.js';
import type { RestoreFlowResult } from '../../backup/restore.js';
import type { BackupTrigger } from '../../backup/types.js';
import { encryptedBackupAt } from '../../offsite/encrypted-path.js';
import { isRemote } from '../../offsite/location.js';
import { expandHome } from '../../paths.js';

/** `/backup restore <file> [--yes]`: verify, confirm, safety backup, then the supervisor in restore mode. */
export async function runBackupRestore(
  args: string[],
  app: App,
  signal: AbortSignal,
  trigger: BackupTrigger = 'manual',
): Promise<RestoreFlowResult> {
  const { file, yes } = parseRestoreArgs(args);
  if (isRemote(file)) {
    const { restoreRemoteBackup } = await import('../../offsite/remote-commands.js');
    return restoreRemoteBackup(file, app, { yes, trigger, signal, ask: app.session.ask });
  }
  const display = (label: 'backup' | 'restore') => createRunDisplay(app.out, { label, signal });
  const encrypted = encryptedBackupAt(expandHome(file));
  if (encrypted) {
    const { restoreEncryptedBackup } = await import('../../offsite/local-encrypted.js');
    return restoreEncryptedBackup(encrypted, app, { yes, trigger, signal, ask: app.session.ask, display });
  }
  return restoreFromBackup(app, file, { yes, trigger, signal, ask: app.session.ask, display });
}
