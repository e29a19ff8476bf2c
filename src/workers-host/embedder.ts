import { messages, messageOf } from '../errors.js';
import { embedLocal, localEmbeddingModel } from '../../workers/shared/local-embedding.js';

// Where embeddings come from. By default the local hashed n-gram embedding (workers/shared/local-embedding.ts), which
// needs no network. With NUAGENT_EMBEDDINGS_URL set, an OpenAI-compatible /v1/embeddings endpoint:
//   NUAGENT_EMBEDDINGS_URL      base URL (`http://127.0.0.1:11434/v1`) or the full `…/v1/embeddings` address
//   NUAGENT_EMBEDDINGS_MODEL    the model to ask for (required with the URL), e.g. text-embedding-3-small
//   NUAGENT_EMBEDDINGS_API_KEY  sent as a Bearer token (falls back to NUAGENT_LLM_API_KEY)
// The endpoint is asked for vectors of the table's dimension (`dimensions`, which OpenAI's text-embedding-3
// models honour); a vector of another length is a per-item failure, never stored.
// Each stored vector carries its model's name; search compares only vectors of the current model, and the
// embeddings worker recomputes the others, so switching models never mixes incomparable vectors.

export interface Embedder {
  /** The name stored with each vector. */
  readonly model: string;
  /** Undefined for the local embedding: the embeddings worker computes it in its own pool. */
  readonly endpoint: string | undefined;
  embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

export interface RemoteEmbeddingsOptions {
  url: string;
  model: string;
  apiKey?: string | undefined;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

export function embedderFromEnv(env: NodeJS.ProcessEnv, dimensions: number): Embedder {
  const url = env.NUAGENT_EMBEDDINGS_URL?.trim();
  if (!url) return new LocalEmbedder(dimensions);
  if (!/^https?:\/\/[^/]/i.test(url)) {
    throw messages.llmBadSetting('NUAGENT_EMBEDDINGS_URL', url, 'http://127.0.0.1:11434/v1');
  }
  const model = env.NUAGENT_EMBEDDINGS_MODEL?.trim();
  if (!model) throw messages.embeddingsModelMissing();
  const apiKey = env.NUAGENT_EMBEDDINGS_API_KEY?.trim() || env.NUAGENT_LLM_API_KEY?.trim() || undefined;
  return new RemoteEmbedder({ url, model, apiKey }, dimensions);
}

export class LocalEmbedder implements Embedder {
  readonly model: string;
  readonly endpoint = undefined;

  constructor(private readonly dimensions: number) {
    this.model = localEmbeddingModel(dimensions);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((text) => embedLocal(text, this.dimensions));
  }
}

/** `http://host:11434` → `…/v1/embeddings`; `…/v1` gets `/embeddings`. */
export function embeddingsUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  if (trimmed.endsWith('/embeddings')) return trimmed;
  if (/\/v\d+$/.test(trimmed)) return `${trimmed}/embeddings`;
  return `${trimmed}/v1/embeddings`;
}

export class RemoteEmbedder implements Embedder {
  readonly model: string;
  readonly endpoint: string;

  constructor(
    private readonly options: RemoteEmbeddingsOptions,
    private readonly dimensions: number,
  ) {
    this.endpoint = embeddingsUrl(options.url);
    this.model = `${options.model}@${dimensions}`;
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let text: string;
    let status: number;
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          model: this.options.model,
          input: texts,
          dimensions: this.dimensions,
          encoding_format: 'float',
        }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      status = response.status;
      text = await response.text();
    } catch (err) {
      throw messages.embeddingsFailed(this.endpoint, timeout.aborted ? 'no answer in time' : messageOf(err), err);
    }
    if (status < 200 || status > 299) {
      throw messages.embeddingsFailed(this.endpoint, `HTTP ${status}: ${text.replace(/\s+/g, ' ').slice(0, 120)}`);
    }
    return this.parse(text, texts.length);
  }

  private parse(text: string, expected: number): Float32Array[] {
    let body: { data?: { index?: unknown; embedding?: unknown }[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (err) {
      throw messages.embeddingsFailed(this.endpoint, 'the answer is not JSON', err);
    }
    const data = Array.isArray(body?.data) ? body.data : [];
    const vectors: Float32Array[] = [];
    for (const [position, entry] of data.entries()) {
      const index = typeof entry.index === 'number' ? entry.index : position;
      if (!Array.isArray(entry.embedding) || !entry.embedding.every((v) => typeof v === 'number')) {
        throw messages.embeddingsFailed(this.endpoint, `data[${position}].embedding is not a list of numbers`);
      }
      vectors[index] = Float32Array.from(entry.embedding as number[]);
    }
    if (vectors.length !== expected || vectors.some((v) => v === undefined)) {
      throw messages.embeddingsFailed(this.endpoint, `asked for ${expected} vectors, got ${data.length}`);
    }
    return vectors;
  }
}
