import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OfflineProvider } from '../src/llm/offline.js';
import { OpenAIProvider, chatCompletionsUrl } from '../src/llm/openai.js';
import { chooseProvider } from '../src/llm/select.js';
import { until } from './helpers/until.js';

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

const sse = (res: http.ServerResponse, data: unknown) =>
  res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
const piece = (content: string, finish: string | null = null) => ({
  model: 'tiny-model-q4',
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});

describe('OpenAI-compatible provider, streaming', () => {
  it('hands on the first piece of the reply before the server has sent the last, and returns it whole', async () => {
    let sentLast = false;
    let release!: () => void;
    const firstSeen = new Promise<void>((resolve) => (release = resolve));
    let body: unknown;
    const url = await serve((_req, text, res) => {
      body = JSON.parse(text);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, piece('Hel'));
      // The rest only once the client has shown the first piece: streaming, not one read at the end.
      void firstSeen.then(() => {
        sse(res, piece('lo, '));
        res.write(': keep-alive comment\n\n');
        sse(res, piece('world.', 'stop'));
        sse(res, { choices: [], usage: { prompt_tokens: 7, completion_tokens: 4 } });
        sentLast = true;
        sse(res, '[DONE]');
        res.end();
      });
    });
    const pieces: { text: string; sentLast: boolean }[] = [];
    const reply = await provider(url).complete(hello, undefined, (text) => {
      pieces.push({ text, sentLast });
      release();
    });
    expect(pieces[0]).toEqual({ text: 'Hel', sentLast: false });
    expect(pieces.map((p) => p.text).join('')).toBe('Hello, world.');
    expect(reply).toEqual({ text: 'Hello, world.', model: 'tiny-model-q4', tokensInput: 7, tokensOutput: 4 });
    expect(body).toMatchObject({ stream: true, stream_options: { include_usage: true }, messages: hello });
  });

  it('reads a server that ignores stream and answers plain JSON, handing the text on whole', async () => {
    const url = await serve((_req, _body, res) =>
      json(res, 200, {
        model: 'plain',
        choices: [{ index: 0, message: { role: 'assistant', content: 'All at once.' } }],
        usage: { prompt_tokens: 2, completion_tokens: 3 },
      }),
    );
    const pieces: string[] = [];
    const reply = await provider(url).complete(hello, undefined, (t) => pieces.push(t));
    expect(pieces).toEqual(['All at once.']);
    expect(reply).toEqual({ text: 'All at once.', model: 'plain', tokensInput: 2, tokensOutput: 3 });
  });

  it('has no token counts when the stream sends no usage', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      sse(res, piece('Short.'));
      sse(res, '[DONE]');
      res.end();
    });
    expect(await provider(url).complete(hello, undefined, () => {})).toEqual({
      text: 'Short.',
      model: 'tiny-model-q4',
      tokensInput: undefined,
      tokensOutput: undefined,
    });
  });

  it('reports an error the server sends inside the stream', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, piece('Par'));
      sse(res, { error: { message: 'out of memory' } });
      res.end();
    });
    await expect(provider(url).complete(hello, undefined, () => {})).rejects.toMatchObject({
      code: 'LLM_STREAM_ERROR',
      message: expect.stringMatching(/stopped its reply with an error: out of memory$/),
    });
  });

  it('refuses a stream that ends before the reply is complete', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, piece('Cut o'));
      res.end();
    });
    await expect(provider(url).complete(hello, undefined, () => {})).rejects.toMatchObject({
      code: 'LLM_BAD_RESPONSE',
      message: expect.stringMatching(/the stream ended before the reply was complete/),
    });
  });

  it('stops mid-stream when the caller cancels', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, piece('Once upon'));
      // and then nothing more, until the client goes away
    });
    const controller = new AbortController();
    let seen = '';
    const call = provider(url).complete(hello, controller.signal, (t) => (seen += t));
    await until(() => seen !== '');
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen).toBe('Once upon');
  });

  it('times out a stream that goes silent', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, piece('Then'));
    });
    await expect(provider(url, 300).complete(hello, undefined, () => {})).rejects.toMatchObject({
      code: 'LLM_TIMEOUT',
    });
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
