import type { Command } from '../command.js';
import { messages } from '../../errors.js';
import { recentExchanges } from '../../store/conversations.js';
import { oneLine } from '../format.js';
import { formatTime } from '../../format/time.js';

const USAGE = '/history [count]';
const DEFAULT_COUNT = 10;
const MAX_COUNT = 1000;

export const historyCommand: Command = {
  name: 'history',
  help: [USAGE, `Show the most recent exchanges (default ${DEFAULT_COUNT}), from every conversation.`],
  async run(args, app) {
    const count = args.length === 0 ? DEFAULT_COUNT : Number(args[0]);
    if (args.length > 1 || !Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw messages.usage(USAGE);
    const exchanges = await recentExchanges(app.store, count);
    if (exchanges.length === 0) {
      app.out.line('No exchanges yet: type a message to start one.');
      return;
    }
    for (const x of exchanges) {
      const facts = [
        formatTime(x.startedAt),
        x.status,
        x.model,
        x.durationMs === undefined ? '' : `${x.durationMs} ms`,
      ];
      if (x.tokensInput !== undefined || x.tokensOutput !== undefined)
        facts.push(`tokens ${x.tokensInput ?? '?'}/${x.tokensOutput ?? '?'}`);
      app.out.line(
        `conversation ${x.conversationId}, exchange ${x.exchangeNumber} · ${facts.filter(Boolean).join(' · ')}`,
      );
      app.out.line(`  you: ${oneLine(x.userMessage, 200)}`);
      if (x.assistantMessage !== undefined) app.out.line(`  reply: ${oneLine(x.assistantMessage, 200)}`);
      if (x.error !== undefined) app.out.line(`  error: ${oneLine(x.error, 200)}`);
    }
  },
};
