import type { Command } from '../command.js';
import { backupCommand } from './backup.js';
import { debugCommand } from './debug.js';
import { exitCommand } from './exit.js';
import { helpCommand } from './help.js';
import { historyCommand } from './history.js';
import { infoCommand } from './info.js';
import { newCommand } from './new.js';
import { searchCommand } from './search.js';
import { workerCommand } from './worker.js';

// The REPL's commands, in the order /help lists them. Adding a command: one file in this folder exporting a
// Command, and one line here.
export const commands: Command[] = [
  helpCommand,
  newCommand,
  historyCommand,
  searchCommand,
  workerCommand,
  backupCommand,
  infoCommand,
  debugCommand,
  exitCommand,
];

export function findCommand(list: readonly Command[], name: string): Command | undefined {
  return list.find((c) => c.name === name);
}
