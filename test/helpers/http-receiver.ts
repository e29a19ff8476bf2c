import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A real HTTP server on 127.0.0.1 that records what notifications arrive, and answers as the test decides: at
// once (200 or 500), or only when the test lets it (a slow service), so tests see order, never timing.

export interface Received {
  method: string;
  path: string;
  body: string;
  contentType: string | undefined;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** The status to answer with (200 by default). */
  status: number;
  /** When set, each request waits for release() before it is answered. */
  holding: boolean;
  /** Answers every request held so far. */
  release(): void;
  /** Resolves when `count` requests have arrived. */
  arrived(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const held: (() => void)[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const receiver = {} as Receiver;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
        contentType: req.headers['content-type'],
      });
      for (const w of waiters.filter((w) => receiver.received.length >= w.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      const answer = () => res.writeHead(receiver.status, { 'content-type': 'text/plain' }).end('OK');
      if (receiver.holding) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  Object.assign(receiver, {
    url: `http://127.0.0.1:${port}`,
    received: [],
    status: 200,
    holding: false,
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    arrived: (count: number) =>
      receiver.received.length >= count
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    close: async () => {
      receiver.release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return receiver;
}

/** A URL on 127.0.0.1 where nothing listens (a port that was just freed). */
export async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
