import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  addCommandHistory,
  closeConversation,
  completeExchange,
  conversationContext,
  createConversation,
  endExchangeWithoutReply,
  recentCommands,
  recentExchanges,
  startExchange,
} from '../src/store/conversations.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { tempDir } from './helpers/temp-dir.js';

const openStore = () => MemoryStore.open(path.join(tempDir(), 'memory.db'));

describe('conversation store', () => {
  it('stores an exchange with both messages, its status, timing and tokens', async () => {
    const store = await openStore();
    const conversation = await createConversation(store);
    const exchange = await startExchange(store, conversation, 'what is DuckDB?');
    expect(exchange).toMatchObject({ conversationId: conversation, exchangeNumber: 1 });
    const [inProgress] = await recentExchanges(store, 5);
    expect(inProgress).toMatchObject({
      status: 'in_progress',
      userMessage: 'what is DuckDB?',
      assistantMessage: undefined,
    });

    await completeExchange(store, exchange, {
      text: 'An embedded analytical database.',
      model: 'test-model',
      tokensInput: 12,
      tokensOutput: 7,
      durationMs: 41.6,
    });
    const [done] = await recentExchanges(store, 5);
    expect(done).toMatchObject({
      status: 'completed',
      assistantMessage: 'An embedded analytical database.',
      model: 'test-model',
      tokensInput: 12,
      tokensOutput: 7,
      durationMs: 42,
    });
    expect(done!.completedAt).toBeInstanceOf(Date);
    const messages = await store.all(`SELECT role, content, exchange_id, tokens_output FROM messages ORDER BY id`);
    expect(messages).toEqual([
      { role: 'user', content: 'what is DuckDB?', exchange_id: exchange.id, tokens_output: null },
      { role: 'assistant', content: 'An embedded analytical database.', exchange_id: exchange.id, tokens_output: 7 },
    ]);
    await store.close();
  });

  it('numbers exchanges per conversation and lists the newest ones in reading order', async () => {
    const store = await openStore();
    const first = await createConversation(store);
    const second = await createConversation(store);
    for (const text of ['a1', 'a2']) await startExchange(store, first, text);
    const b1 = await startExchange(store, second, 'b1');
    const a3 = await startExchange(store, first, 'a3');
    expect(b1.exchangeNumber).toBe(1);
    expect(a3.exchangeNumber).toBe(3);
    const recent = await recentExchanges(store, 2);
    expect(recent.map((x) => x.userMessage)).toEqual(['b1', 'a3']);
    await store.close();
  });

  it('keeps the user message of a failed exchange but leaves it out of the model context', async () => {
    const store = await openStore();
    const conversation = await createConversation(store);
    const ok = await startExchange(store, conversation, 'hello');
    await completeExchange(store, ok, { text: 'hi', model: 'm', durationMs: 5 });
    const failed = await startExchange(store, conversation, 'are you there?');
    await endExchangeWithoutReply(store, failed.id, 'failed', 'connection refused', 3);

    const [, last] = await recentExchanges(store, 2);
    expect(last).toMatchObject({ status: 'failed', error: 'connection refused', userMessage: 'are you there?' });
    expect(await conversationContext(store, conversation, 10)).toEqual([
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: 'hi' },
    ]);
    await store.close();
  });

  it('limits the model context to the newest exchanges of that conversation only', async () => {
    const store = await openStore();
    const mine = await createConversation(store);
    const other = await createConversation(store);
    for (const [conversation, text] of [
      [mine, 'one'],
      [other, 'elsewhere'],
      [mine, 'two'],
      [mine, 'three'],
    ] as const) {
      const x = await startExchange(store, conversation, text);
      await completeExchange(store, x, { text: `re ${text}`, model: 'm', durationMs: 1 });
    }
    const context = await conversationContext(store, mine, 2);
    expect(context.map((m) => m.content)).toEqual(['two', 're two', 'three', 're three']);
    await store.close();
  });

  it('closes a conversation when a new one starts', async () => {
    const store = await openStore();
    const conversation = await createConversation(store, 'first');
    await closeConversation(store, conversation);
    expect(await store.all(`SELECT title, status FROM conversations`)).toEqual([{ title: 'first', status: 'closed' }]);
    await store.close();
  });

  it('keeps the command history across a close and reopen, newest first', async () => {
    const db = path.join(tempDir(), 'memory.db');
    const store = await MemoryStore.open(db);
    for (const line of ['/info', 'hello', '/history 3']) await addCommandHistory(store, line);
    await store.close();
    const again = await MemoryStore.open(db);
    expect(await recentCommands(again, 2)).toEqual(['/history 3', 'hello']);
    await again.close();
  });
});
