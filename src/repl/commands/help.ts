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
    const width = Math.max(...commands.map((c) => c.help[0]?.length ?? 0));
    for (const command of commands) {
      const [usage = `/${command.name}`, summary = ''] = command.help;
      app.out.line(`  ${usage.padEnd(width)}  ${summary}`);
    }
    app.out.line('Ctrl-C cancels a running command; Ctrl-D or /exit quits.');
  },
};
