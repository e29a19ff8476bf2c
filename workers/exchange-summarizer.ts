import { runSummarizer } from './summarize.js';
import type { ExchangeItem } from './protocol.js';

// Summarises completed exchanges (one user message and the assistant's answer) that have no summary yet.

const INSTRUCTION =
  'Summarise this exchange between a user and an AI assistant in one or two sentences: what was asked and what ' +
  'the answer was. Answer with the summary only.';

await runSummarizer<ExchangeItem>(INSTRUCTION, (item) => [
  { role: 'user', content: item.userMessage },
  ...(item.assistantMessage === undefined ? [] : [{ role: 'assistant', content: item.assistantMessage }]),
]);
