import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { formatError } from '../src/report.js';
import { generateDatabase } from './generate-db.js';

// `npm run gen-db -- --size 300 --into FILE`: a memory of about 300 MiB for trying backups and restores by hand.
// A new FILE is created; an existing nu-agent memory grows to the size (its own rows stay); a file that is not a
// nu-agent memory is refused. Nothing is ever deleted.

const mib = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a size in MiB, e.g. 300');
  return n;
};

const program = new Command('gen-db')
  .description('Make (or grow) a nu-agent memory file of about the given size, with realistic rows')
  .requiredOption('--size <MiB>', 'the size to reach, in MiB', mib)
  .requiredOption('--into <file>', 'the memory file: created if missing, grown if it is a nu-agent memory')
  .addHelpText('after', '\nExample:\n  npm run gen-db -- --size 300 --into /tmp/big/memory.db');

async function main(): Promise<void> {
  program.parse();
  // A memory file is private from its first byte, like the ones nu-agent makes (DuckDB creates it, and its WAL).
  process.umask(0o077);
  const { size, into } = program.opts<{ size: number; into: string }>();
  const file = path.resolve(into);
  const before = fs.existsSync(file) ? fs.statSync(file).size : undefined;
  if (before !== undefined && before >= size * 2 ** 20) {
    process.stdout.write(`${file} is already ${mib1(before)} MiB; nothing added.\n`);
    return;
  }
  process.stderr.write(`${before === undefined ? 'Creating' : 'Growing'} ${file} to about ${size} MiB…\n`);
  const made = await generateDatabase(file, size * 2 ** 20);
  process.stdout.write(
    `${file}: ${mib1(made.startBytes)} MiB -> ${mib1(made.sizeBytes)} MiB ` +
      `(+${made.conversations} conversations, +${made.exchanges} exchanges)\n`,
  );
}

const mib1 = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

main().catch((err: unknown) => {
  process.stderr.write(formatError(err).join('\n') + '\n');
  process.exitCode = 1;
});
