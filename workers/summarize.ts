import type { Remote } from 'comlink';
import { EXTRACTIVE_MODEL, extractiveSummary } from './extractive-summary.js';
import type { ConversationItem, ExchangeItem, MemoryPortApi, TranscriptLine } from './shared/protocol.js';
import { runWorker } from './worker-runtime.js';

// A summary from the chat model when one is configured (the call is made by the main thread, through the port),
// and a local extractive summary otherwise. A model error is thrown, so the item is recorded as failed and
// retried later; it never falls back silently to the local summary, which would then be kept for good.

const MAX_MODEL_INPUT = 12_000;
// The local summary runs on this thread, where it delays a pause until it returns: about 4 ms per 10,000
// characters here, so a bounded input keeps that under a few tens of milliseconds even for a huge conversation.
const MAX_LOCAL_INPUT = 40_000;

export interface Summary {
  text: string;
  model: string;
}

export async function summarize(
  port: Remote<MemoryPortApi>,
  instruction: string,
  lines: TranscriptLine[],
): Promise<Summary> {
  const reply = await port.chat([
    { role: 'system', content: instruction },
    { role: 'user', content: clip(lines.map((l) => `${label(l.role)}: ${l.content}`).join('\n\n'), MAX_MODEL_INPUT) },
  ]);
  if (reply.status === 'unavailable') {
    const text = clip(lines.map((l) => l.content).join('\n'), MAX_LOCAL_INPUT);
    return { text: extractiveSummary(text), model: EXTRACTIVE_MODEL };
  }
  if (reply.status === 'failed') throw Object.assign(new Error(reply.error.message), reply.error);
  const text = reply.text.trim();
  if (!text) throw new Error(`the model ${reply.model} returned an empty summary`);
  return { text, model: reply.model };
}

function label(role: string): string {
  return role === 'assistant' ? 'Assistant' : role === 'user' ? 'User' : role;
}

/** Keeps the beginning (what it was about) and the end (where it got to) of a long transcript. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.floor(max / 3);
  return `${text.slice(0, head)}\n\n[…]\n\n${text.slice(text.length - (max - head))}`;
}

/**
 * The whole job of a summariser thread: one item at a time (a pause never waits for a batch of model calls),
 * summarised from the transcript the item gives, stored "as of" the newest content it covers.
 */
export function runSummarizer<I extends ConversationItem | ExchangeItem>(
  instruction: string,
  transcriptOf: (item: I) => TranscriptLine[],
): Promise<void> {
  return runWorker<I>(({ port }) => ({
    chunkSize: 1,
    compute: (items) =>
      Promise.all(
        items.map(async (item) => {
          const summary = await summarize(port, instruction, transcriptOf(item));
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
      ),
  }));
}
