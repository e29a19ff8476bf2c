import type { ChatMessage, ChatProvider, ChatReply } from '../app.js';
import { errnoOf, messages } from '../errors.js';

// Any OpenAI-compatible chat-completions endpoint: a local Ollama or llama.cpp server, or a hosted one.
// One POST per message, no streaming: the REPL shows the reply when it is complete, and an exchange is stored
// only whole. Every way the call can go wrong ends in one of four fixed errors (unreachable, HTTP status,
// not a chat completion, timeout) or in a cancellation when the user pressed Ctrl-C.

export interface OpenAIOptions {
  /** Base URL (`http://127.0.0.1:11434/v1`) or the full `/v1/chat/completions` address. */
  url: string;
  model: string;
  apiKey?: string | undefined;
  timeoutMs: number;
}

/** `http://host:11434` → `http://host:11434/v1/chat/completions`; `…/v1` gets `/chat/completions`. */
export function chatCompletionsUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  if (trimmed.endsWith('/chat/completions')) return trimmed;
  if (/\/v\d+$/.test(trimmed)) return `${trimmed}/chat/completions`;
  return `${trimmed}/v1/chat/completions`;
}

interface CompletionBody {
  model?: unknown;
  choices?: { message?: { content?: unknown } }[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
}

export class OpenAIProvider implements ChatProvider {
  readonly name = 'openai';
  readonly available = true;
  readonly endpoint: string;

  constructor(private readonly options: OpenAIOptions) {
    this.endpoint = chatCompletionsUrl(options.url);
  }

  get description(): string {
    return `${this.options.model} at ${this.endpoint}`;
  }

  async complete(chat: ChatMessage[], signal?: AbortSignal): Promise<ChatReply> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let status: number;
    let text: string;
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: this.options.model, messages: chat, stream: false }),
        signal: combined,
      });
      status = response.status;
      // Reading the body is inside the same signal: a server that sends headers and then stalls still times out.
      text = await response.text();
    } catch (err) {
      if (signal?.aborted) throw messages.cancelled('the chat message');
      if (timeout.aborted) throw messages.llmTimeout(this.endpoint, this.options.timeoutMs);
      throw messages.llmUnreachable(this.endpoint, connectionReason(err), err);
    }
    if (status < 200 || status > 299) throw messages.llmHttpStatus(this.endpoint, status, errorDetail(text));
    return this.parse(text);
  }

  private parse(text: string): ChatReply {
    let body: CompletionBody;
    try {
      body = JSON.parse(text) as CompletionBody;
    } catch (err) {
      throw messages.llmBadResponse(this.endpoint, `not JSON: ${snippet(text)}`, err);
    }
    const content = body?.choices?.[0]?.message?.content;
    if (typeof content !== 'string') {
      throw messages.llmBadResponse(this.endpoint, 'no choices[0].message.content');
    }
    const usage = body.usage ?? {};
    return {
      text: content,
      model: typeof body.model === 'string' && body.model ? body.model : this.options.model,
      tokensInput: wholeNumber(usage.prompt_tokens),
      tokensOutput: wholeNumber(usage.completion_tokens),
    };
  }
}

/** undici reports "fetch failed" and hides the reason in the cause chain (ECONNREFUSED, ENOTFOUND…). */
function connectionReason(err: unknown): string {
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    const code = errnoOf(current);
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
    if (code) return code;
    current = current instanceof Error ? current.cause : undefined;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The server's own words for an HTTP error: OpenAI-style `{error: {message}}` or the start of the body. */
function errorDetail(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string };
    if (typeof body.error === 'string') return snippet(body.error);
    if (typeof body.error?.message === 'string') return snippet(body.error.message);
  } catch {
    // not JSON: show the text itself
  }
  return snippet(text);
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}

function wholeNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}
