import type { ChatProvider } from '../app.js';
import { messages } from '../errors.js';
import { OfflineProvider } from './offline.js';
import { OpenAIProvider } from './openai.js';

// The provider comes from the environment: a URL means an OpenAI-compatible server, nothing means offline.
// A half-configured model is an error at start-up (before the database is touched), not a surprise at the
// first message.

export const DEFAULT_LLM_TIMEOUT_SECONDS = 120;

export function chooseProvider(env: NodeJS.ProcessEnv = process.env): ChatProvider {
  const url = env.NUAGENT_LLM_URL?.trim();
  if (!url) return new OfflineProvider();
  if (!/^https?:\/\/[^/]/i.test(url)) throw messages.llmBadSetting('NUAGENT_LLM_URL', url, 'http://127.0.0.1:11434/v1');
  const model = env.NUAGENT_LLM_MODEL?.trim();
  if (!model) throw messages.llmModelMissing();
  const timeoutText = env.NUAGENT_LLM_TIMEOUT?.trim();
  const seconds = timeoutText ? Number(timeoutText) : DEFAULT_LLM_TIMEOUT_SECONDS;
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw messages.llmBadSetting('NUAGENT_LLM_TIMEOUT', timeoutText ?? '', String(DEFAULT_LLM_TIMEOUT_SECONDS));
  }
  return new OpenAIProvider({
    url,
    model,
    apiKey: env.NUAGENT_LLM_API_KEY?.trim() || undefined,
    timeoutMs: Math.round(seconds * 1000),
  });
}
