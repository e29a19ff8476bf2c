import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach } from 'vitest';
import { tempDir } from './temp-dir.js';

// A real S3-compatible server (s3rver, test/fixtures/s3-server.mjs) in a child process on 127.0.0.1, with the
// environment a user would set for it: the SDK's endpoint variable and s3rver's fixed credentials. Stopped
// after each test.

export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const SCRIPT = path.resolve('test/fixtures/s3-server.mjs');

export interface S3Server {
  endpoint: string;
  port: number;
  dir: string;
  /** What a user would export: endpoint, region and credentials. */
  env: Record<string, string>;
  /** Where s3rver keeps an object's bytes (to flip one). */
  objectFile(bucket: string, key: string): string;
  /** Every key stored in a bucket, multipart parts in progress excluded. */
  keys(bucket: string): string[];
  /** Multipart uploads begun and neither completed nor aborted. */
  openUploads(bucket: string): string[];
  /** SIGKILL: the server dies mid-request, as a crashed one would. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that stops answering without closing its connections. */
  pause(): void;
  resume(): void;
}

const running: ChildProcess[] = [];

afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL');
});

function startChild(dir: string, port: number, buckets: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [SCRIPT, dir, String(port), ...buckets], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.push(child);
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /port (\d+)/.exec(seen);
      if (match) resolve({ child, port: Number(match[1]) });
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${seen}`)));
  });
}

export async function startS3Server(buckets = ['bucket']): Promise<S3Server> {
  const dir = tempDir('nuagent-s3-');
  const started = await startChild(dir, 0, buckets);
  const port = started.port;
  let child = started.child;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    dir,
    env: { ...S3RVER_CREDENTIALS, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: endpoint },
    objectFile: (bucket, key) => {
      const parts = key.split('/');
      const last = parts.pop()!;
      return path.join(dir, bucket, ...parts, `${last}._S3rver_object`);
    },
    keys: (bucket) => {
      const root = path.join(dir, bucket);
      if (!fs.existsSync(root)) return [];
      return (fs.readdirSync(root, { recursive: true }) as string[])
        .filter((f) => f.endsWith('._S3rver_object'))
        .map((f) => f.slice(0, -'._S3rver_object'.length))
        .sort();
    },
    openUploads: (bucket) => {
      const uploads = path.join(dir, bucket, '._S3rver_uploads');
      return fs.existsSync(uploads) ? fs.readdirSync(uploads) : [];
    },
    kill: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    restart: async () => {
      ({ child } = await startChild(dir, port, []));
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  };
}
