import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { embedderFromEnv, embeddingsUrl } from '../src/workers-host/embedder.js';

// The OpenAI-compatible embeddings endpoint, against a real local HTTP server.

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function serve(handler: (body: Record<string, unknown>) => { status: number; body: unknown }) {
  const requests: { body: Record<string, unknown>; auth: string | undefined }[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      requests.push({ body, auth: req.headers.authorization });
      const answer = handler(body);
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests };
}

describe('the embeddings endpoint', () => {
  it('asks for vectors of the table dimension and returns them in input order', async () => {
    const { url, requests } = await serve((body) => ({
      status: 200,
      // Out of order on purpose: the index says which input each vector belongs to.
      body: { data: (body.input as string[]).map((_, i) => ({ index: i, embedding: [i, 1, 0] })).reverse() },
    }));
    const embedder = embedderFromEnv(
      { NUAGENT_EMBEDDINGS_URL: url, NUAGENT_EMBEDDINGS_MODEL: 'text-embedding-3-small', NUAGENT_LLM_API_KEY: 'k' },
      3,
    );
    expect(embedder.model).toBe('text-embedding-3-small@3');
    const vectors = await embedder.embed(['a', 'b']);
    expect(vectors.map((v) => [...v])).toEqual([
      [0, 1, 0],
      [1, 1, 0],
    ]);
    expect(requests[0]).toEqual({
      body: { model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 3, encoding_format: 'float' },
      auth: 'Bearer k',
    });
  });

  it('fails with the endpoint and the reason when the answer is unusable', async () => {
    const { url } = await serve(() => ({ status: 401, body: { error: { message: 'bad key' } } }));
    const embedder = embedderFromEnv({ NUAGENT_EMBEDDINGS_URL: url, NUAGENT_EMBEDDINGS_MODEL: 'm' }, 3);
    await expect(embedder.embed(['a'])).rejects.toMatchObject({ code: 'EMBEDDINGS_FAILED', message: /HTTP 401/ });

    const short = await serve(() => ({ status: 200, body: { data: [] } }));
    const other = embedderFromEnv({ NUAGENT_EMBEDDINGS_URL: short.url, NUAGENT_EMBEDDINGS_MODEL: 'm' }, 3);
    await expect(other.embed(['a'])).rejects.toMatchObject({ message: /asked for 1 vectors, got 0/ });
  });

  it('uses the local embedding unless configured, and refuses half a configuration', () => {
    expect(embedderFromEnv({}, 384)).toMatchObject({ endpoint: undefined, model: 'local-hash-ngram-v1-384' });
    expect(() => embedderFromEnv({ NUAGENT_EMBEDDINGS_URL: 'http://h/v1' }, 3)).toThrow(
      /NUAGENT_EMBEDDINGS_MODEL is not/,
    );
    expect(() => embedderFromEnv({ NUAGENT_EMBEDDINGS_URL: 'h', NUAGENT_EMBEDDINGS_MODEL: 'm' }, 3)).toThrow(
      /NUAGENT_EMBEDDINGS_URL is not valid/,
    );
    expect(embeddingsUrl('http://h:1')).toBe('http://h:1/v1/embeddings');
    expect(embeddingsUrl('http://h:1/v1/')).toBe('http://h:1/v1/embeddings');
  });
});
