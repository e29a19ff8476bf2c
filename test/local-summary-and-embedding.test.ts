import { describe, expect, it } from 'vitest';
import { extractiveSummary } from '../workers/extractive-summary.js';
import embedBatch from '../workers/embed-batch.task.js';
import { embedLocal, localEmbeddingModel } from '../workers/shared/local-embedding.js';

// The offline defaults: a summary without a model and an embedding without a network.

const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * b[i]!, 0);

describe('the local embedding', () => {
  it('is deterministic, unit length and of the requested dimension', () => {
    const a = embedLocal('Backing up the DuckDB file', 384);
    expect(a).toHaveLength(384);
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect([...embedLocal('Backing up the DuckDB file', 384)]).toEqual([...a]);
    expect(localEmbeddingModel(384)).toBe('local-hash-ngram-v1-384');
  });

  it('puts texts that share words and word pieces closer than unrelated ones', () => {
    const query = embedLocal('database backups', 384);
    const related = embedLocal('How to back up the database file: the backup is a copy', 384);
    const unrelated = embedLocal('Lemon cake with poppy seeds', 384);
    expect(dot(query, related)).toBeGreaterThan(dot(query, unrelated) + 0.1);
  });

  it('returns a zero vector for a text without words, and the piscina task embeds a batch', () => {
    expect([...embedLocal('  ...  ', 8)]).toEqual(new Array(8).fill(0));
    const batch = embedBatch({ texts: ['one', 'two'], dimensions: 16 });
    expect(batch.map((v) => [...v])).toEqual([[...embedLocal('one', 16)], [...embedLocal('two', 16)]]);
  });
});

describe('the extractive summary', () => {
  it('keeps the sentences that carry the most frequent words, in their original order, within the budget', () => {
    const text = [
      'Hello there.',
      'I want to back up my DuckDB database every night.',
      'The weather is nice today.',
      'A backup of the database must be verified after the copy.',
      'Thanks!',
    ].join(' ');
    const summary = extractiveSummary(text, { maxSentences: 2 });
    expect(summary).toBe(
      'I want to back up my DuckDB database every night. A backup of the database must be verified after the copy.',
    );
    expect(extractiveSummary(text, { maxChars: 60 }).length).toBeLessThanOrEqual(60);
  });

  it('does not repeat a sentence said twice, and cuts one long sentence to the budget', () => {
    expect(extractiveSummary('Is the copy safe? Is the copy safe? It is verified.')).toBe(
      'Is the copy safe? It is verified.',
    );
    const long = extractiveSummary('word '.repeat(200), { maxChars: 50 });
    expect(long).toHaveLength(50);
    expect(long.endsWith('…')).toBe(true);
    expect(extractiveSummary('')).toBe('');
  });
});
