import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { completeExchange, startExchange } from '../src/store/conversations.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { EMBEDDING_DIMENSIONS } from '../src/store/schema.js';
import { searchMemory, searchableCount } from '../src/store/search.js';
import {
  conversationsToSummarize,
  exchangesToSummarize,
  recordFailure,
  saveEmbedding,
  saveSummary,
  summariesToEmbed,
} from '../src/store/work-queue.js';
import { LocalEmbedder } from '../src/workers-host/embedder.js';
import { tempDir } from './helpers/temp-dir.js';
import { seedChat } from './helpers/workers.js';

// The workers' SQL against a real DuckDB file: what is handed out, what a write does when the item changed
// meanwhile, the retry backoff of failed items, and the cosine ranking of /search.

const open = () => MemoryStore.open(path.join(tempDir(), 'memory.db'));
const embedder = new LocalEmbedder(EMBEDDING_DIMENSIONS);

describe('the work queue', () => {
  it('leaves the active conversation alone and hands a conversation out again when it grows', async () => {
    const store = await open();
    const [a, b] = await seedChat(store, 2, 2);
    expect((await conversationsToSummarize(store, b!.id, 10)).map((c) => c.id)).toEqual([a!.id]);

    const [item] = await conversationsToSummarize(store, undefined, 1);
    expect(item!.transcript.map((l) => l.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(
      await saveSummary(store, { type: 'summary', ref: item!, summary: 'S', model: 'm', asOfUs: item!.asOfUs }),
    ).toBe(true);
    expect((await conversationsToSummarize(store, undefined, 10)).map((c) => c.id)).toEqual([b!.id]);

    // A new exchange in the summarised conversation makes its summary out of date.
    const more = await startExchange(store, a!.id, 'One more thing.');
    await completeExchange(store, more, { text: 'Sure.', model: 'x', durationMs: 1 });
    const again = await conversationsToSummarize(store, b!.id, 10);
    expect(again.map((c) => [c.id, c.transcript.length])).toEqual([[a!.id, 6]]);
    await store.close();
  });

  it('writes nothing when the item changed since it was read', async () => {
    const store = await open();
    await seedChat(store, 1, 1);
    const [exchange] = await exchangesToSummarize(store, 10);
    const result = { type: 'summary' as const, ref: exchange!, summary: 'S', model: 'm', asOfUs: exchange!.asOfUs };
    // Another exchange with the same id but another completion time (a restored database, say).
    expect(await saveSummary(store, { ...result, asOfUs: exchange!.asOfUs + 1 })).toBe(false);
    expect(await saveSummary(store, result)).toBe(true);
    expect(await exchangesToSummarize(store, 10)).toEqual([]);

    const [toEmbed] = await summariesToEmbed(store, embedder.model, 10);
    expect(toEmbed).toEqual({ kind: 'exchange', id: exchange!.id, content: 'S' });
    const [vector] = await embedder.embed(['an older summary']);
    const embedding = { type: 'embedding' as const, ref: toEmbed!, vector: vector!, model: embedder.model };
    expect(await saveEmbedding(store, { ...embedding, content: 'an older summary' })).toBe(false);
    expect(await saveEmbedding(store, { ...embedding, content: 'S' })).toBe(true);
    expect(await summariesToEmbed(store, embedder.model, 10)).toEqual([]);
    // Another embedding model makes every vector due again.
    expect(await summariesToEmbed(store, 'another-model', 10)).toHaveLength(1);
    await store.close();
  });

  it('keeps a failed item back until its retry time, doubling the delay, and clears it on success', async () => {
    const store = await open();
    await seedChat(store, 1, 2);
    const [first] = await exchangesToSummarize(store, 10);
    const policy = { baseMs: 0, maxMs: 0 };
    expect(await recordFailure(store, 'exchange-summarizer', first!, 'boom', policy)).toBe(1);
    expect(await exchangesToSummarize(store, 10)).toHaveLength(2); // retry_after is now: due again

    expect(
      await recordFailure(store, 'exchange-summarizer', first!, 'boom again', { baseMs: 60_000, maxMs: 1e9 }),
    ).toBe(2);
    const [row] = await store.all(
      `SELECT attempts, error, epoch_ms(retry_after) - epoch_ms(failed_at) AS delay FROM failed_jobs`,
    );
    expect(row).toEqual({ attempts: 2, error: 'boom again', delay: 120_000 });
    expect((await exchangesToSummarize(store, 10)).map((e) => e.id)).not.toContain(first!.id);

    await store.run(`UPDATE failed_jobs SET retry_after = now() - INTERVAL 1 SECOND`);
    expect(
      await saveSummary(store, { type: 'summary', ref: first!, summary: 'S', model: 'm', asOfUs: first!.asOfUs }),
    ).toBe(true);
    expect(await store.all(`SELECT * FROM failed_jobs`)).toEqual([]);
    await store.close();
  });
});

describe('search', () => {
  it('ranks the summaries closest to the query first, among vectors of the current model only', async () => {
    const store = await open();
    const texts = [
      'How to back up the DuckDB memory file and verify the copy',
      'A recipe for lemon cake with poppy seeds',
      'Planning a hiking trip in the Alps in September',
    ];
    const seeded = await seedChat(store, 3, 1);
    for (const [i, text] of texts.entries()) {
      const id = seeded[i]!.exchanges[0]!;
      await store.run(`UPDATE exchanges SET summary = $2 WHERE id = $1`, [id, text]);
      const [vector] = await embedder.embed([text]);
      await saveEmbedding(store, {
        type: 'embedding',
        ref: { kind: 'exchange', id },
        content: text,
        vector: vector!,
        model: embedder.model,
      });
    }
    expect(await searchableCount(store, embedder.model)).toBe(3);

    const [query] = await embedder.embed(['backups of the database']);
    const hits = await searchMemory(store, query!, embedder.model, 3);
    expect(hits.map((h) => h.content)).toEqual([texts[0], expect.any(String), expect.any(String)]);
    expect(hits[0]).toMatchObject({ kind: 'exchange', conversationId: seeded[0]!.id });
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);

    const [cake] = await embedder.embed(['cake recipes']);
    expect((await searchMemory(store, cake!, embedder.model, 1))[0]!.content).toBe(texts[1]);
    expect(await searchMemory(store, cake!, 'another-model', 3)).toEqual([]);
    await store.close();
  });
});
