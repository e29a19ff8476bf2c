import { words } from './shared/local-embedding.js';

// The offline summary: no model, just the sentences that best represent the text. Each sentence is scored by
// how frequent its content words are in the whole text (a classic frequency-based extractive summary, in the
// manner of Luhn), the best ones are kept in their original order, up to a length budget.

export const EXTRACTIVE_MODEL = 'local-extractive-v1';

const STOPWORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have how i if in into is it its ' +
    'just me my no not of on or our please should so that the their them then there these they this to too us ' +
    'was we were what when where which who why will with would you your yes ok okay thanks thank hi hello'
  ).split(' '),
);

export interface SummaryOptions {
  /** Upper bound on the summary's length in characters. */
  maxChars?: number;
  /** At most this many sentences. */
  maxSentences?: number;
}

export function extractiveSummary(text: string, options: SummaryOptions = {}): string {
  const maxChars = options.maxChars ?? 400;
  const maxSentences = options.maxSentences ?? 3;
  const sentences = splitSentences(text);
  if (sentences.length === 0) return '';

  const frequency = new Map<string, number>();
  for (const w of words(text)) if (!STOPWORDS.has(w)) frequency.set(w, (frequency.get(w) ?? 0) + 1);

  const scored = sentences.map((sentence, index) => {
    const content = words(sentence).filter((w) => !STOPWORDS.has(w));
    const score = content.reduce((sum, w) => sum + (frequency.get(w) ?? 0), 0) / Math.sqrt(content.length || 1);
    return { sentence, index, score };
  });
  const chosen = scored
    .filter((s) => s.score > 0)
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, maxSentences)
    .sort((a, b) => a.index - b.index);
  const picked = chosen.length > 0 ? chosen : scored.slice(0, 1);

  let summary = '';
  for (const { sentence } of picked) {
    const next = summary ? `${summary} ${sentence}` : sentence;
    if (next.length > maxChars) break;
    summary = next;
  }
  return summary || truncate(picked[0]!.sentence, maxChars);
}

/** The distinct sentences (a question asked twice is one sentence), in their first order. */
function splitSentences(text: string): string[] {
  const seen = new Set<string>();
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => {
      const key = s.toLowerCase();
      if (words(s).length === 0 || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1).trimEnd()}…`;
}
