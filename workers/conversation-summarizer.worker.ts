import { runSummarizer } from './summarize.js';
import type { ConversationItem } from './shared/protocol.js';

// Summarises finished conversations (every one but the conversation in progress) that have no summary, or whose
// summary predates their newest exchange. The summary is stored "as of" the newest content it covers.

const INSTRUCTION =
  'Summarise this conversation between a user and an AI assistant in two or three sentences, for finding it ' +
  'again later: name the topics, decisions and results. Answer with the summary only.';

await runSummarizer<ConversationItem>(INSTRUCTION, (item) => item.transcript);
