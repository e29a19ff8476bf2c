import type { Command } from '../command.js';

export const exitCommand: Command = {
  name: 'exit',
  help: ['/exit', 'Quit nu-agent (Ctrl-D does the same).'],
  async run() {
    return 'exit';
  },
};
