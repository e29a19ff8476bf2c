import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Upload } from '@aws-sdk/lib-storage';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import type { Output } from '../src/app.js';
import { createApp } from '../src/app/create-app.js';
import { encryptionPlan } from '../src/offsite/encryption.js';
import { runEncryptedBackup } from '../src/offsite/local-encrypted.js';
import { parseRemote } from '../src/offsite/location.js';
import { runOffsiteBackup } from '../src/offsite/offsite-backup.js';
import { RemoteStore } from '../src/offsite/remote-store.js';
import { DEFAULT_PART_SIZE, uploadBackup } from '../src/offsite/upload.js';
import { generateDatabase } from './generate-db.js';
import { median } from './reference-copies.js';

// `npm run bench -- --remote`: offsite uploads against a local S3-compatible server (s3rver in a child process on
// 127.0.0.1, the one the tests use). For the same verified backup file: a plain multipart upload by the SDK alone
// (same part size and concurrency), nu-agent's upload without encryption, and with age encryption; each as
// MiB/s and as a ratio to the plain SDK upload. Then the workers' paused window of `/backup s3://…` against a
// local `/backup` of the same database: the upload runs after the agent resumed, so the two should match.

const SERVER = fileURLToPath(new URL('../../test/fixtures/s3-server.mjs', import.meta.url));
const silent: Output = { line() {}, error() {}, debug() {}, isTTY: false };
const PAUSED = ['pausing', 'holding', 'checkpointing', 'closing', 'transferring', 'copying', 'verifying'];
const PAUSED_TAIL = ['committing', 'discarding', 'reopening', 'checking', 'resuming'];

export interface RemoteBenchReport {
  sizeMiB: number;
  fileBytes: number;
  sdkMiBps: number;
  plainMiBps: number;
  encryptedMiBps: number;
  plainRatio: number;
  encryptedRatio: number;
  localPausedMs: number;
  offsitePausedMs: number;
  /** `/backup DIR --encrypt`: the same window, the encryption runs after the workers resumed. */
  encryptedLocalPausedMs: number;
}

export async function benchRemote(options: {
  sizeMiB: number;
  reps: number;
  dir: string;
  log: (line: string) => void;
}): Promise<RemoteBenchReport> {
  const { dir, log } = options;
  const server = await startServer(path.join(dir, 's3'));
  const savedEnv = { ...process.env };
  try {
    const identity = await generateX25519Identity();
    fs.writeFileSync(path.join(dir, 'recipients.txt'), `${await identityToRecipient(identity)}\n`);
    const home = path.join(dir, 'home-remote');
    Object.assign(process.env, {
      NUAGENT_HOME: home,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: server.endpoint,
      NUAGENT_BACKUP_RECIPIENTS: path.join(dir, 'recipients.txt'),
    });
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
    const db = path.join(home, 'memory.db');
    log(`  generating ${options.sizeMiB} MiB database…`);
    await generateDatabase(db, options.sizeMiB * 2 ** 20);
    const env = { ...process.env, NUAGENT_HOME: home, NUAGENT_LLM_URL: '', NUAGENT_EMBEDDINGS_URL: '' };
    const app = await createApp({ env, makeOutput: () => silent });
    const sdk: number[] = [];
    const plain: number[] = [];
    const encrypted: number[] = [];
    const localPaused: number[] = [];
    const offsitePaused: number[] = [];
    const encryptedLocalPaused: number[] = [];
    let fileBytes = 0;
    try {
      for (let rep = 0; rep < options.reps; rep++) {
        const local = await app.backups.run({ destination: path.join(dir, `local-${rep}.db`), trigger: 'cli' });
        if (!local.ok) throw local.error;
        localPaused.push(pausedMs(local.stateDurations));
        fileBytes = local.sizeBytes;
        const mib = fileBytes / 2 ** 20;

        const store = new RemoteStore(parseRemote(`s3://bench/r${rep}/`));
        const t0 = performance.now();
        await new Upload({
          client: store.client,
          params: {
            Bucket: 'bench',
            Key: `r${rep}/sdk.db`,
            Body: fs.createReadStream(local.path, { highWaterMark: 2 ** 20 }),
          },
          partSize: DEFAULT_PART_SIZE,
          queueSize: 4,
        }).done();
        sdk.push(mib / ((performance.now() - t0) / 1000));
        const t1 = performance.now();
        await uploadBackup(local.path, new RemoteStore(parseRemote(`s3://bench/r${rep}/plain.db`), store.client), {
          encryption: undefined,
        });
        plain.push(mib / ((performance.now() - t1) / 1000));
        const t2 = performance.now();
        await uploadBackup(local.path, new RemoteStore(parseRemote(`s3://bench/r${rep}/enc.db`), store.client), {
          encryption: encryptionPlan(),
        });
        encrypted.push(mib / ((performance.now() - t2) / 1000));
        store.destroy();

        const offsite = await runOffsiteBackup(
          { destination: `s3://bench/r${rep}/full.db`, force: false, json: true },
          app,
          new AbortController().signal,
          'cli',
        );
        offsitePaused.push(pausedMs(offsite.local.stateDurations));
        const sealed = await runEncryptedBackup(
          { destination: path.join(dir, `sealed-${rep}.db`), force: false, json: true },
          app,
          new AbortController().signal,
          'cli',
        );
        encryptedLocalPaused.push(pausedMs(sealed.local.stateDurations));
        for (const f of [sealed.agePath, sealed.manifestPath]) fs.rmSync(f, { force: true });
        for (const f of [local.path, local.manifestPath]) fs.rmSync(f, { force: true });
        fs.rmSync(path.join(dir, 's3', 'bench'), { recursive: true, force: true });
        fs.mkdirSync(path.join(dir, 's3', 'bench'));
        log(
          `  rep ${rep + 1}: SDK ${sdk.at(-1)!.toFixed(0)} MiB/s, nu-agent plain ${plain.at(-1)!.toFixed(0)} MiB/s, ` +
            `encrypted ${encrypted.at(-1)!.toFixed(0)} MiB/s; paused ${localPaused.at(-1)!.toFixed(0)} ms local, ` +
            `${offsitePaused.at(-1)!.toFixed(0)} ms offsite, ${encryptedLocalPaused.at(-1)!.toFixed(0)} ms local --encrypt`,
        );
      }
    } finally {
      await app.shutdown();
    }
    return {
      sizeMiB: options.sizeMiB,
      fileBytes,
      sdkMiBps: median(sdk),
      plainMiBps: median(plain),
      encryptedMiBps: median(encrypted),
      plainRatio: median(plain) / median(sdk),
      encryptedRatio: median(encrypted) / median(sdk),
      localPausedMs: median(localPaused),
      offsitePausedMs: median(offsitePaused),
      encryptedLocalPausedMs: median(encryptedLocalPaused),
    };
  } finally {
    process.env = savedEnv;
    server.child.kill('SIGKILL');
  }
}

/** From asking the workers to pause until they run again (state names before and after issue 11's rename). */
function pausedMs(states: Record<string, number>): number {
  return [...PAUSED, ...PAUSED_TAIL].reduce((sum, name) => sum + (states[name] ?? 0), 0);
}

async function startServer(dir: string): Promise<{ child: ChildProcess; endpoint: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, [SERVER, dir, '0', 'bench'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /port (\d+)/.exec(seen);
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited (${code}): ${seen}`)));
  });
  return { child, endpoint: `http://127.0.0.1:${port}` };
}

export function printRemoteReport(r: RemoteBenchReport, log: (line: string) => void): void {
  log(`\noffsite upload of a ${(r.fileBytes / 2 ** 20).toFixed(0)} MiB backup to s3rver on 127.0.0.1 (medians)`);
  log(`  SDK alone (multipart, 8 MiB parts, 4 at once): ${r.sdkMiBps.toFixed(1)} MiB/s`);
  log(
    `  nu-agent, --no-encrypt:                        ${r.plainMiBps.toFixed(1)} MiB/s (${r.plainRatio.toFixed(2)} of the SDK)`,
  );
  log(
    `  nu-agent, age encryption:                      ${r.encryptedMiBps.toFixed(1)} MiB/s (${r.encryptedRatio.toFixed(2)} of the SDK)`,
  );
  log(
    `  workers paused: local /backup ${r.localPausedMs.toFixed(0)} ms, /backup s3://… ${r.offsitePausedMs.toFixed(0)} ms, ` +
      `/backup DIR --encrypt ${r.encryptedLocalPausedMs.toFixed(0)} ms`,
  );
}
