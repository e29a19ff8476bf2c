import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { probe } from '../../src/auto-backup/control-server.js';
import { until } from './until.js';

// Runs the compiled CLI (`npm run build` first; `npm test` does) as a child process, the way users and scripts
// do: stdin piped, so the REPL reads one command per line. The environment is reduced to what the test gives,
// so the developer's own NUAGENT_* settings and ~/.nuagent never leak in.

export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (and its group): how a root test makes a directory unwritable for the child. */
  uid?: number;
}

export function startCli(args: string[], options: CliOptions = {}): ChildProcessWithoutNullStreams {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before these tests`);
  return spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: options.env?.HOME ?? '/nonexistent', ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  });
}

/** Runs to the end with `input` on stdin. */
export function runCli(args: string[], input = '', options: CliOptions = {}): Promise<CliRun> {
  const child = startCli(args, options);
  const run = collect(child);
  child.stdin.end(input);
  return run;
}

export function collect(child: ChildProcessWithoutNullStreams): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Resolves once the child has written `text` to stdout (or stderr, where a piped REPL puts its banner). */
export function waitForOutput(child: ChildProcessWithoutNullStreams, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer | string) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', () => reject(new Error(`exited before printing ${JSON.stringify(text)}; got ${seen}`)));
  });
}

/**
 * stderr without the wait lines a slow step prints in piped mode (`Waiting for …`, `Still waiting for …`): on a
 * busy machine any step may take longer than half a second, so a test that expects no other output drops them.
 */
export function withoutWaitLines(stderr: string): string {
  return stderr.replace(/^(Waiting|Still waiting) for .*…\n/gm, '');
}

/** A REPL reading from a pipe that stays open, up once its control socket answers. */
export async function startRepl(env: NodeJS.ProcessEnv, socket: string) {
  const child = startCli([], { env });
  const finished = collect(child);
  await until(async () => child.exitCode !== null || (await probe(socket)) === 'live');
  if (child.exitCode !== null) throw new Error(`the REPL exited: ${JSON.stringify(await finished)}`);
  return { child, finished };
}
