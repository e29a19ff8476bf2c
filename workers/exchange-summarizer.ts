import { runWorker } from './worker-runtime.js';
import { summarize } from './summarize.js';
import type { ExchangeItem } from './protocol.js';

// Summarises completed exchanges (one user message and the assistant's answer) that have no summary yet.

const INSTRUCTION =
  'Summarise this exchange between a user and an AI assistant in one or two sentences: what was asked and what ' +
  'the answer was. Answer with the summary only.';

await runWorker<ExchangeItem>(({ port }) => ({
  chunkSize: 1,
  async compute(items) {
    return Promise.all(
      items.map(async (item) => {
        const summary = await summarize(port, INSTRUCTION, [
          { role: 'user', content: item.userMessage },
          { role: 'assistant', content: item.assistantMessage },
        ]);
        return {
          ok: true as const,
          result: {
            type: 'summary' as const,
            ref: { kind: item.kind, id: item.id },
            summary: summary.text,
            model: summary.model,
            asOfUs: item.asOfUs,
          },
        };
      }),
    );
  },
}));
