import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OfflineProvider } from '../src/llm/offline.js';
import { OpenAIProvider, chatCompletionsUrl } from '../src/llm/openai.js';
import { chooseProvider } from '../src/llm/select.js';

// A small OpenAI-compatible server on 127.0.0.1, answering each request with the handler the test gives it.

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
const servers: http.Server[] = [];

async function serve(handler: Handler): Promise<string> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handler(req, body, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

const provider = (url: string, timeoutMs = 5000) =>
  new OpenAIProvider({ url, model: 'tiny-model', apiKey: 'sk-test', timeoutMs });
const hello = [{ role: 'user' as const, content: 'hello' }];

describe('OpenAI-compatible provider', () => {
  it('posts the conversation to /v1/chat/completions and returns the reply with its token counts', async () => {
    let seen: { url?: string; auth?: string; body?: unknown } = {};
    const url = await serve((req, body, res) => {
      seen = { url: req.url, auth: req.headers.authorization, body: JSON.parse(body) };
      json(res, 200, {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        model: 'tiny-model-q4',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there.' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
      });
    });
    const reply = await provider(url).complete(hello);
    expect(reply).toEqual({ text: 'Hi there.', model: 'tiny-model-q4', tokensInput: 9, tokensOutput: 3 });
    expect(seen).toEqual({
      url: '/v1/chat/completions',
      auth: 'Bearer sk-test',
      body: { model: 'tiny-model', messages: hello, stream: false },
    });
  });

  it('says the connection was refused when nothing listens', async () => {
    const url = await serve(() => {});
    const closed = servers.pop()!;
    await new Promise((resolve) => closed.close(resolve));
    await expect(provider(url).complete(hello)).rejects.toMatchObject({
      code: 'LLM_UNREACHABLE',
      message: expect.stringMatching(/cannot reach the model server at .*\(connection refused\)/),
      hint: expect.stringMatching(/NUAGENT_LLM_URL/),
    });
  });

  it("reports an HTTP 500 with the server's own message", async () => {
    const url = await serve((_req, _body, res) => json(res, 500, { error: { message: 'model failed to load' } }));
    await expect(provider(url).complete(hello)).rejects.toMatchObject({
      code: 'LLM_HTTP_STATUS',
      message: expect.stringMatching(/answered HTTP 500: model failed to load$/),
    });
  });

  it('points at the API key for a 401', async () => {
    const url = await serve((_req, _body, res) => json(res, 401, 'Unauthorized'));
    await expect(provider(url).complete(hello)).rejects.toMatchObject({
      code: 'LLM_HTTP_STATUS',
      hint: 'Check NUAGENT_LLM_API_KEY.',
    });
  });

  it('rejects a reply that is not JSON', async () => {
    const url = await serve((_req, _body, res) => json(res, 200, '<html>proxy error</html>'));
    await expect(provider(url).complete(hello)).rejects.toMatchObject({
      code: 'LLM_BAD_RESPONSE',
      message: expect.stringMatching(/not JSON: <html>proxy error<\/html>/),
    });
  });

  it('rejects JSON that is not a chat completion', async () => {
    const url = await serve((_req, _body, res) => json(res, 200, { choices: [] }));
    await expect(provider(url).complete(hello)).rejects.toMatchObject({
      code: 'LLM_BAD_RESPONSE',
      message: expect.stringMatching(/no choices\[0\]\.message\.content/),
    });
  });

  it('gives up after its timeout when the server never answers', async () => {
    const url = await serve(() => {
      // Accepts the request and never responds.
    });
    await expect(provider(url, 300).complete(hello)).rejects.toMatchObject({
      code: 'LLM_TIMEOUT',
      message: expect.stringMatching(/did not answer within 0\.3 s/),
      hint: expect.stringMatching(/NUAGENT_LLM_TIMEOUT/),
    });
  });

  it('times out a server that sends headers and then stalls', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"choices": [');
    });
    await expect(provider(url, 300).complete(hello)).rejects.toMatchObject({ code: 'LLM_TIMEOUT' });
  });

  it('stops waiting when the caller cancels', async () => {
    const url = await serve(() => {});
    const controller = new AbortController();
    const call = provider(url).complete(hello, controller.signal);
    setTimeout(() => controller.abort(), 50);
    await expect(call).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});

describe('choosing the provider', () => {
  it('is offline when no URL is configured', () => {
    const chosen = chooseProvider({});
    expect(chosen).toBeInstanceOf(OfflineProvider);
    expect(chosen.available).toBe(false);
  });

  it('uses the OpenAI-compatible endpoint when URL and model are set', () => {
    const chosen = chooseProvider({ NUAGENT_LLM_URL: 'http://127.0.0.1:11434', NUAGENT_LLM_MODEL: 'llama3.2' });
    expect(chosen).toBeInstanceOf(OpenAIProvider);
    expect(chosen.description).toBe('llama3.2 at http://127.0.0.1:11434/v1/chat/completions');
  });

  it('refuses a URL without a model, or a bad timeout, before anything starts', () => {
    expect(() => chooseProvider({ NUAGENT_LLM_URL: 'http://127.0.0.1:11434/v1' })).toThrow(/NUAGENT_LLM_MODEL/);
    expect(() => chooseProvider({ NUAGENT_LLM_URL: 'localhost:11434', NUAGENT_LLM_MODEL: 'x' })).toThrow(
      /NUAGENT_LLM_URL is not valid/,
    );
    expect(() =>
      chooseProvider({ NUAGENT_LLM_URL: 'http://h/v1', NUAGENT_LLM_MODEL: 'x', NUAGENT_LLM_TIMEOUT: 'soon' }),
    ).toThrow(/NUAGENT_LLM_TIMEOUT is not valid/);
  });

  it('accepts a base URL, a /v1 URL or the full endpoint', () => {
    expect(chatCompletionsUrl('http://h:1')).toBe('http://h:1/v1/chat/completions');
    expect(chatCompletionsUrl('https://api.example.com/v1/')).toBe('https://api.example.com/v1/chat/completions');
    expect(chatCompletionsUrl('http://h/v1/chat/completions')).toBe('http://h/v1/chat/completions');
  });
});
