#!/usr/bin/env node
import { Command } from 'commander';
import { appVersion } from './app/version.js';
import { createCliContext } from './cli/context.js';
import { closest } from './did-you-mean.js';
import { messages } from './errors.js';
import { subcommands } from './cli/subcommands.js';

// The entry point: `nu-agent` opens the REPL; `nu-agent <subcommand>` runs one task and exits.
// Exit codes: 0 success, 1 something failed (the reason is on stderr as `Error:` and `Try:`).

// Every file nu-agent (and DuckDB inside it) creates is private from its first byte: the database, its WAL,
// backups, manifests, the history. A later chmod would leave a descriptor opened meanwhile able to read.
process.umask(0o077);

const version = appVersion();
const cli = createCliContext(version);

const program = new Command('nu-agent')
  .description('A command-line AI agent whose long-term memory lives in one DuckDB file.')
  .version(version, '-v, --version', 'print the version and exit')
  .helpOption('-h, --help', 'show this help and exit')
  .option('--database <path>', 'the memory database file (default: $NUAGENT_HOME/memory.db)')
  .option('--debug', 'show debug output for this run (/debug on keeps it on)')
  .showHelpAfterError('(run nu-agent --help for usage)')
  .addHelpText(
    'after',
    `
Environment:
  NUAGENT_HOME          data directory (default ~/.nuagent, created with mode 0700)
  NUAGENT_DATABASE      the memory database file (--database wins over it)
  NUAGENT_LLM_URL       an OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 (unset: offline)
  NUAGENT_LLM_MODEL     the model to ask, e.g. llama3.2
  NUAGENT_LLM_API_KEY   sent as a Bearer token, if the server needs one
  NUAGENT_LLM_TIMEOUT   seconds to wait for a reply (default 120)
  NUAGENT_EMBEDDINGS_URL      an OpenAI-compatible /v1/embeddings endpoint for /search (unset: local, offline)
  NUAGENT_EMBEDDINGS_MODEL    the embedding model to ask (required with NUAGENT_EMBEDDINGS_URL)
  NUAGENT_EMBEDDINGS_API_KEY  sent as a Bearer token (default: NUAGENT_LLM_API_KEY)

Piped input runs one command per line without prompts (a line ending in \\ continues on the next), e.g.
  printf '/info\\n/exit\\n' | nu-agent`,
  )
  // `nu-agent help [command]` as well as --help; any other word is not a command (and may be a typo of one).
  .helpCommand('help [command]', 'show help for a command')
  .allowExcessArguments()
  .action(async (_options, command: Command) => {
    if (command.args.length > 0) {
      const word = command.args[0]!;
      const names = command.commands.map((c) => c.name());
      cli.fail(messages.unknownCliCommand(word, closest(word, [...names, 'help'])));
      return;
    }
    // Prompts, colours and line editing only when a person is at both ends.
    const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    const [{ runRepl }, { TerminalOutput }] = await Promise.all([
      import('./repl/repl.js'),
      import('./repl/terminal-output.js'),
    ]);
    await cli.withApp(command, (app) => runRepl(app, { interactive, handleSignals: true }), {
      makeOutput: (isDebug) => new TerminalOutput({ isTTY: interactive, isDebug }),
    });
  });

for (const subcommand of subcommands) subcommand.register(program, cli);

// A reader that goes away (`nu-agent | head -1`) is like being asked to stop: whatever runs is cancelled and the
// database is closed cleanly, instead of an EPIPE crash that leaves the write-ahead log behind.
let outputGone = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', () => {
    if (outputGone) return;
    outputGone = true;
    process.emit('SIGTERM', 'SIGTERM');
  });
}

await program.parseAsync(process.argv);

// Everything started has been stopped by now. Something still keeping the process alive is a bug; say so and
// leave rather than hang a script (the timer itself does not keep the process alive).
setTimeout(() => {
  process.stderr.write('nu-agent: something was still running at exit; please report this with --debug output\n');
  process.exit();
}, 5000).unref();
