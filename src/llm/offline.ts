import type { ChatProvider, ChatReply } from '../app.js';
import { OFFLINE_MODEL } from '../store/conversations.js';

// The default when no model is configured. It never touches the network, so memory, search and backups are
// fully usable offline; each message is still stored as an exchange, and the reply says how to add a model.

export const OFFLINE_REPLY =
  'No model is configured, so nothing answered this message (it is stored in your memory). ' +
  'To chat with a model, set NUAGENT_LLM_URL and NUAGENT_LLM_MODEL (and NUAGENT_LLM_API_KEY if the server ' +
  'needs one) and start nu-agent again; see the README.';

export class OfflineProvider implements ChatProvider {
  readonly name = 'offline';
  readonly description = 'offline (no model configured)';
  readonly available = false;

  async complete(): Promise<ChatReply> {
    return { text: OFFLINE_REPLY, model: OFFLINE_MODEL };
  }
}
