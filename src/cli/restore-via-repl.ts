import path from 'node:path';
import type { Command } from 'commander';
import { readManifest } from '../backup/manifest.js';
import { restoreQuestion } from '../backup/restore.js';
import type { Ask } from '../backup/restore.js';
import { messages } from '../errors.js';
import { expandHome } from '../paths.js';
import { askRepl, replHoldsDatabase } from './ask-repl.js';
import type { CliContext } from './context.js';

// `nu-agent backup restore FILE` while a nu-agent REPL holds the database: the REPL restores (it owns the file),
// but the confirmation stays with the terminal that asked: it is put here, before the REPL is asked, and the
// REPL is only ever asked for a confirmed restore (`--yes`). The REPL still verifies the backup first and
// refuses one that does not verify, exactly as a restore run here would.

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** The exit code of the restore a REPL ran for us; undefined when no REPL holds this database. */
export async function restoreViaRepl(
  cli: CliContext,
  command: Command,
  file: string,
  yes: boolean,
  ask: Ask | undefined,
): Promise<number | undefined> {
  if (!(await replHoldsDatabase(cli, command))) return undefined;
  const resolved = path.resolve(expandHome(file));
  if (!yes) {
    if (!ask) {
      cli.fail(messages.restoreNeedsConfirmation(resolved), Boolean(cli.globalOptions(command).debug));
      return EXIT_USAGE;
    }
    // An encrypted backup's manifest is that of its plaintext name (NAME.db.age beside NAME.db.manifest.json).
    const read = readManifest(resolved.replace(/\.age$/, ''));
    // Without a readable manifest there is nothing to describe, and the REPL's verification refuses the file
    // before anything changes; with one, the person here decides.
    if (read.ok) {
      const answer = await ask(restoreQuestion(read.manifest), new AbortController().signal);
      if (answer === undefined || !/^y(es)?$/i.test(answer.trim())) {
        process.stdout.write('Restore cancelled; nothing was changed.\n');
        return EXIT_FAILURE;
      }
    }
  }
  return askRepl(cli, command, { op: 'restore', args: [resolved, '--yes'] });
}
