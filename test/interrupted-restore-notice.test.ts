import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { RunningApp } from '../src/app.js';
import { createApp } from '../src/app/create-app.js';
import { RecordingOutput } from './helpers/recording-output.js';
import { tempDir } from './helpers/temp-dir.js';

// A restore keeps the previous database as `<db>.before-restore` until the restored one checks out. A process
// that died in between leaves it there; the next start must say so, and must never remove a real database.

const apps: RunningApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.shutdown();
});

async function start(home: string) {
  const out = new RecordingOutput();
  const app = await createApp({ env: { NUAGENT_HOME: home }, makeOutput: () => out });
  apps.push(app);
  return { app, out };
}

it('tells where the database from before an interrupted restore is kept, and keeps it', async () => {
  const home = tempDir();
  const first = await start(home);
  await first.app.shutdown();
  const db = path.join(home, 'memory.db');
  fs.copyFileSync(db, `${db}.before-restore`);

  const { out } = await start(home);
  expect(out.lines.join('\n')).toMatch(/Notice: a restore was interrupted\..*memory\.db\.before-restore/);
  expect(fs.existsSync(`${db}.before-restore`)).toBe(true);
});

it('quietly drops a second name of the same file, left when a restore died before the swap', async () => {
  const home = tempDir();
  const first = await start(home);
  await first.app.shutdown();
  const db = path.join(home, 'memory.db');
  fs.linkSync(db, `${db}.before-restore`);

  const { out } = await start(home);
  expect(out.lines.join('\n')).not.toContain('Notice: a restore was interrupted');
  expect(fs.existsSync(`${db}.before-restore`)).toBe(false);
  expect(fs.existsSync(db)).toBe(true);
});
