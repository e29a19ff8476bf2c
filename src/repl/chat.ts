import type { App, ChatMessage } from '../app.js';
import { isNuError, messageOf, messages } from '../errors.js';
import { NO_WAITS, waitingFor } from './wait-indicator.js';
import {
  completeExchange,
  conversationContext,
  createConversation,
  endExchangeWithoutReply,
  startExchange,
} from '../store/conversations.js';

// One chat message: an exchange in the current conversation. The user's message is stored before the model is
// asked, so it is kept even when the model fails or the user cancels; the exchange then records why it ended.
// The reply is shown as it streams in and stored whole once complete; every wait says what it waits for.

const SYSTEM_PROMPT =
  'You are nu-agent, a helpful assistant in a terminal. Your memory of earlier conversations is kept in a ' +
  'local database. Answer plainly and briefly.';

/** How many earlier exchanges of the conversation the model sees with each message. */
export const CONTEXT_EXCHANGES = 20;

export async function sendChatMessage(app: App, text: string, signal: AbortSignal): Promise<void> {
  const waits = app.out.waits;
  const forDatabase = () => databaseWait(app);
  const { conversationId, context, exchange } = await waitingFor(waits, forDatabase, async () => {
    const conversationId = (app.session.conversationId ??= await createConversation(app.store));
    const context = await conversationContext(app.store, conversationId, CONTEXT_EXCHANGES);
    const exchange = await startExchange(app.store, conversationId, text);
    return { conversationId, context, exchange };
  });
  const chat: ChatMessage[] = [{ role: 'system', content: SYSTEM_PROMPT }, ...context, { role: 'user', content: text }];
  const started = performance.now();
  // The reply goes onto the screen as it arrives; the wait line shows only until the first piece.
  const modelWait = (waits ?? NO_WAITS).begin(`the model to answer (${app.provider.description})`);
  const write = app.out.write?.bind(app.out);
  let shown = '';
  const onText = write
    ? (piece: string) => {
        modelWait.end();
        shown += piece;
        write(piece);
      }
    : undefined;
  const endLine = () => {
    if (shown !== '' && !shown.endsWith('\n')) write?.('\n');
  };
  let reply;
  try {
    reply = await app.provider.complete(chat, signal, onText);
  } catch (err) {
    modelWait.end();
    endLine();
    const cancelled = signal.aborted;
    const shownError = cancelled && !isNuError(err) ? messages.cancelled('the chat message') : err;
    await waitingFor(waits, forDatabase, () =>
      endExchangeWithoutReply(
        app.store,
        exchange.id,
        cancelled ? 'cancelled' : 'failed',
        messageOf(shownError),
        performance.now() - started,
      ),
    );
    throw shownError;
  } finally {
    modelWait.end();
  }
  endLine();
  if (shown === '') app.out.line(reply.text);
  const durationMs = performance.now() - started;
  await waitingFor(waits, forDatabase, () => completeExchange(app.store, exchange, { ...reply, durationMs }));
  const tokens =
    reply.tokensInput === undefined && reply.tokensOutput === undefined
      ? 'tokens unknown'
      : `tokens in ${reply.tokensInput ?? '?'} / out ${reply.tokensOutput ?? '?'}`;
  app.out.debug(
    `conversation ${conversationId}, exchange ${exchange.exchangeNumber}: ${reply.model}, ${Math.round(durationMs)} ms, ${tokens}`,
  );
}

/** Why a chat message waits for the database: a backup holds it (maybe one asked from another terminal). */
function databaseWait(app: App): string {
  const outside = app.autoBackup?.control?.activity;
  if (outside) return `${outside} to finish (it holds the database)`;
  if (app.backups.busy) return 'the backup in progress to release the database';
  return 'the database (work queued before this message)';
}
