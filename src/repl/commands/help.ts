import type { Command } from '../command.js';
import { messages } from '../../errors.js';
// A cycle on purpose: the registry lists /help, and /help lists the registry. Both are only read when a
// command runs, long after both modules have loaded.
import { commands, findCommand } from './index.js';

export const helpCommand: Command = {
  name: 'help',
  help: ['/help [command]', 'List the commands, or show one in full.'],
  async run(args, app) {
    if (args.length > 1) throw messages.usage('/help [command]');
    if (args[0]) {
      const name = args[0].replace(/^\//, '').toLowerCase();
      const command = findCommand(commands, name);
      if (!command) throw messages.unknownCommand(`/${name}`);
      for (const line of command.help) app.out.line(line);
      return;
    }
    app.out.line('Type a message to chat. Commands:');
    // One row per command: its usage's first words (a long usage is cut at a word, with "…") in a column of
    // at most USAGE_COLUMN, then the summary; /help <command> shows the whole usage.
    const rows = commands.map((command) => {
      const [usage = `/${command.name}`, summary = ''] = command.help;
      return { usage: shortUsage(usage), summary: summary.trim() };
    });
    const width = Math.max(...rows.map((r) => r.usage.length));
    for (const { usage, summary } of rows) app.out.line(`  ${usage.padEnd(width)}  ${summary}`);
    app.out.line('Ctrl-C cancels a running command; Ctrl-D or /exit quits.');
  },
};

const USAGE_COLUMN = 28;

function shortUsage(usage: string): string {
  if (usage.length <= USAGE_COLUMN) return usage;
  const words = usage.split(' ');
  let short = words[0]!;
  for (const word of words.slice(1)) {
    if (`${short} ${word} …`.length > USAGE_COLUMN) break;
    short += ` ${word}`;
  }
  return `${short} …`;
}
