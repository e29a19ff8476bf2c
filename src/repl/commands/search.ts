import type { Command } from '../command.js';
import { messages } from '../../errors.js';
import { searchMemory, searchableCount } from '../../store/search.js';
import { oneLine } from '../format.js';

const USAGE = '/search <text>';
const RESULTS = 5;

export const searchCommand: Command = {
  name: 'search',
  help: [
    USAGE,
    'Find past conversations and exchanges by meaning: their summaries, ranked by cosine similarity.',
    'Summaries and their vectors are made in the background (/worker status); the newest chat is not in yet.',
  ],
  async run(args, app, signal) {
    const text = args.join(' ').trim();
    if (!text) throw messages.usage(USAGE);
    const { embedder } = app.workerAdmin;
    if ((await searchableCount(app.store, embedder.model)) === 0) {
      app.out.line('Nothing is indexed for search yet: finished chat is summarised and indexed in the background.');
      return;
    }
    const [vector] = await embedder.embed([text], signal);
    const hits = await searchMemory(app.store, vector!, embedder.model, RESULTS);
    for (const [i, hit] of hits.entries()) {
      // The same words and numbers as /history, so a hit can be found there.
      const where =
        hit.kind === 'exchange'
          ? `conversation ${hit.conversationId}, exchange ${hit.exchangeNumber ?? '?'}`
          : `conversation ${hit.id}`;
      app.out.line(`${i + 1}. ${hit.score.toFixed(2)}  ${where}: ${oneLine(hit.content, 160)}`);
    }
  },
};
