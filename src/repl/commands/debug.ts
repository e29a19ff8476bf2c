import type { Command } from '../command.js';
import { messages } from '../../errors.js';
import { setSetting, settings } from '../../store/app-config.js';

const USAGE = '/debug [on|off]';

export const debugCommand: Command = {
  name: 'debug',
  help: [
    USAGE,
    'Show or switch debug output (error causes and stacks, timings, state changes).',
    'The choice is kept in the database for the next start; --debug turns it on for one run.',
  ],
  async run(args, app) {
    if (args.length === 0) {
      app.out.line(`Debug is ${app.debug ? 'on' : 'off'}.`);
      return;
    }
    const choice = args.length === 1 ? args[0]!.toLowerCase() : '';
    if (choice !== 'on' && choice !== 'off') throw messages.usage(USAGE);
    const on = choice === 'on';
    await setSetting(app.store, settings.debug, on);
    app.debug = on;
    app.out.line(`Debug is ${choice}.`);
  },
};
