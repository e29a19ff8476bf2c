import { autoBackupSubcommand } from './auto-backup.js';
import { backupSubcommand } from './backup.js';
import { backupManageSubcommand } from './backup-manage.js';
import type { CliSubcommand } from './context.js';

// The `nu-agent <name>` subcommands besides the REPL. Adding one: a file in this folder exporting a
// CliSubcommand, and one line here.
export const subcommands: CliSubcommand[] = [
  backupSubcommand,
  // After `backup` (src/cli/backup.ts): it adds list/verify/prune/restore under it.
  backupManageSubcommand,
  autoBackupSubcommand,
];
