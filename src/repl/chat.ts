import type { App, ChatMessage } from '../app.js';
import { isNuError, messageOf, messages } from '../errors.js';
import {
  completeExchange,
  conversationContext,
  createConversation,
  endExchangeWithoutReply,
  startExchange,
} from '../store/conversations.js';

// One chat message: an exchange in the current conversation. The user's message is stored before the model is
// asked, so it is kept even when the model fails or the user cancels; the exchange then records why it ended.

const SYSTEM_PROMPT =
  'You are nu-agent, a helpful assistant in a terminal. Your memory of earlier conversations is kept in a ' +
  'local database. Answer plainly and briefly.';

/** How many earlier exchanges of the conversation the model sees with each message. */
export const CONTEXT_EXCHANGES = 20;

export async function sendChatMessage(app: App, text: string, signal: AbortSignal): Promise<void> {
  const conversationId = (app.session.conversationId ??= await createConversation(app.store));
  const context = await conversationContext(app.store, conversationId, CONTEXT_EXCHANGES);
  const exchange = await startExchange(app.store, conversationId, text);
  const chat: ChatMessage[] = [{ role: 'system', content: SYSTEM_PROMPT }, ...context, { role: 'user', content: text }];
  const started = performance.now();
  let reply;
  try {
    reply = await app.provider.complete(chat, signal);
  } catch (err) {
    const cancelled = signal.aborted;
    const shown = cancelled && !isNuError(err) ? messages.cancelled('the chat message') : err;
    await endExchangeWithoutReply(
      app.store,
      exchange.id,
      cancelled ? 'cancelled' : 'failed',
      messageOf(shown),
      performance.now() - started,
    );
    throw shown;
  }
  const durationMs = performance.now() - started;
  await completeExchange(app.store, exchange, { ...reply, durationMs });
  app.out.line(reply.text);
  const tokens =
    reply.tokensInput === undefined && reply.tokensOutput === undefined
      ? 'tokens unknown'
      : `tokens in ${reply.tokensInput ?? '?'} / out ${reply.tokensOutput ?? '?'}`;
  app.out.debug(
    `conversation ${conversationId}, exchange ${exchange.exchangeNumber}: ${reply.model}, ${Math.round(durationMs)} ms, ${tokens}`,
  );
}
