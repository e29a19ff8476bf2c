import type { ChatMessage, ChatProvider, ChatReply } from '../app.js';
import { errnoOf, isNuError, messageOf, messages } from '../errors.js';
import { SseDataReader } from './sse.js';

// Any OpenAI-compatible chat-completions endpoint: a local Ollama or llama.cpp server, or a hosted one.
// One POST per message. When the caller shows the reply as it comes (onText), the request asks for a stream
// (`stream: true`, server-sent events) and hands on each piece of text as it arrives; a server that ignores
// `stream` and answers with plain JSON is read the old way and its text handed on whole. Either way the reply
// returned is the whole text, so an exchange is stored only whole. Every way the call can go wrong ends in one
// of the fixed errors (unreachable, HTTP status, not a chat completion, an error in the stream, timeout) or in
// a cancellation when the user pressed Ctrl-C.

export interface OpenAIOptions {
  /** Base URL (`http://127.0.0.1:11434/v1`) or the full `/v1/chat/completions` address. */
  url: string;
  model: string;
  apiKey?: string | undefined;
  /** Without a stream: the time for the whole reply. With one: the longest silence (a long reply may go on). */
  timeoutMs: number;
}

/** `http://host:11434` → `http://host:11434/v1/chat/completions`; `…/v1` gets `/chat/completions`. */
export function chatCompletionsUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  if (trimmed.endsWith('/chat/completions')) return trimmed;
  if (/\/v\d+$/.test(trimmed)) return `${trimmed}/chat/completions`;
  return `${trimmed}/v1/chat/completions`;
}

interface Usage {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
}

interface CompletionBody {
  model?: unknown;
  choices?: { message?: { content?: unknown } }[];
  usage?: Usage;
}

interface StreamChunk {
  model?: unknown;
  choices?: { delta?: { content?: unknown }; finish_reason?: unknown }[];
  usage?: Usage | null;
  error?: { message?: unknown } | string;
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

  async complete(
    chat: ChatMessage[],
    signal?: AbortSignal,
    onText?: ((text: string) => void) | undefined,
  ): Promise<ChatReply> {
    const stream = onText !== undefined;
    const silence = new SilenceTimer(this.options.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, silence.signal]) : silence.signal;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream, application/json' : 'application/json',
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const body = stream
      ? { model: this.options.model, messages: chat, stream: true, stream_options: { include_usage: true } }
      : { model: this.options.model, messages: chat, stream: false };
    let status: number;
    let text: string;
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: combined,
      });
      status = response.status;
      if (stream && status >= 200 && status <= 299 && isEventStream(response) && response.body) {
        return await this.readStream(response.body, onText, silence);
      }
      // Reading the body is inside the same signal: a server that sends headers and then stalls still times out.
      text = await response.text();
    } catch (err) {
      if (signal?.aborted) throw messages.cancelled('the chat message');
      if (silence.signal.aborted) throw messages.llmTimeout(this.endpoint, this.options.timeoutMs);
      if (isNuError(err)) throw err;
      throw messages.llmUnreachable(this.endpoint, connectionReason(err), err);
    } finally {
      silence.clear();
    }
    if (status < 200 || status > 299) throw messages.llmHttpStatus(this.endpoint, status, errorDetail(text));
    const reply = this.parse(text);
    onText?.(reply.text);
    return reply;
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
    return this.reply(content, body.model, body.usage);
  }

  /** Hands on each piece of text as it arrives; the reply is complete at `[DONE]` or a finish_reason. */
  private async readStream(
    body: ReadableStream<Uint8Array>,
    onText: (text: string) => void,
    silence: SilenceTimer,
  ): Promise<ChatReply> {
    const reader = new SseDataReader();
    const decoder = new TextDecoder();
    let text = '';
    let model: unknown;
    let usage: Usage | undefined;
    let complete = false;
    const take = (data: string) => {
      if (data.trim() === '[DONE]') {
        complete = true;
        return;
      }
      let chunk: StreamChunk;
      try {
        chunk = JSON.parse(data) as StreamChunk;
      } catch (err) {
        throw messages.llmBadResponse(this.endpoint, `a stream event that is not JSON: ${snippet(data)}`, err);
      }
      if (chunk.error !== undefined) throw messages.llmStreamError(this.endpoint, errorDetail(JSON.stringify(chunk)));
      if (typeof chunk.model === 'string' && chunk.model) model = chunk.model;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      const piece = choice?.delta?.content;
      if (typeof piece === 'string' && piece !== '') {
        text += piece;
        onText(piece);
      }
      if (typeof choice?.finish_reason === 'string') complete = true;
    };
    for await (const bytes of body) {
      silence.restart();
      for (const data of reader.push(decoder.decode(bytes, { stream: true }))) take(data);
    }
    for (const data of reader.push(decoder.decode())) take(data);
    for (const data of reader.end()) take(data);
    if (!complete) throw messages.llmBadResponse(this.endpoint, 'the stream ended before the reply was complete');
    return this.reply(text, model, usage);
  }

  private reply(text: string, model: unknown, usage: Usage = {}): ChatReply {
    return {
      text,
      model: typeof model === 'string' && model ? model : this.options.model,
      tokensInput: wholeNumber(usage.prompt_tokens),
      tokensOutput: wholeNumber(usage.completion_tokens),
    };
  }
}

function isEventStream(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').toLowerCase().includes('text/event-stream');
}

/** Aborts its signal after timeoutMs of silence; restart() on every piece that arrives. */
class SilenceTimer {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {
    this.restart();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  restart(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(), this.timeoutMs);
  }

  clear(): void {
    clearTimeout(this.timer);
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
  return messageOf(err);
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
