import type { App } from '../../app.js';
import { parseVerifyArgs } from '../../backup/manage-args.js';
import { formatVerifyOutcome, verifyBackup } from '../../backup/verify.js';
import type { VerifyOutcome } from '../../backup/verify.js';
import { messages } from '../../errors.js';
import { encryptedBackupAt } from '../../offsite/encrypted-path.js';
import { isRemote } from '../../offsite/location.js';
import { expandHome } from '../../paths.js';

/** `/backup verify <file> [--json]`: re-reads the backup against its manifest and gives a verdict. */
export async function runBackupVerify(
  args: string[],
  app: Pick<App, 'out'>,
  signal: AbortSignal,
): Promise<VerifyOutcome> {
  const { file, json } = parseVerifyArgs(args);
  if (isRemote(file))
    return (await import('../../offsite/remote-commands.js')).verifyRemoteBackup(file, json, app.out, signal);
  const encrypted = encryptedBackupAt(expandHome(file));
  if (encrypted)
    return (await import('../../offsite/local-encrypted.js')).verifyEncryptedBackup(encrypted, json, app.out, signal);
  const outcome = await verifyBackup(expandHome(file), { signal });
  if (json) app.out.line(JSON.stringify(outcome, null, 2));
  else for (const line of formatVerifyOutcome(outcome)) app.out.line(line);
  // A failed verdict counts as a failed command (a piped REPL exits non-zero); the verdict above says why.
  if (!outcome.ok && !json) throw messages.backupVerifyFailed(outcome.file);
  return outcome;
}
