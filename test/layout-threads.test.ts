import fs from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { WORKER_NAMES } from '../src/workers-host/worker-manager.js';

// The folders say which thread runs a file (README, Layout), and the project's own eslint config keeps it so.
// Each case lints a line of code as if it sat at that path, with the config `npm run lint` uses.

const eslint = new ESLint();

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

const BOUNDARY = 'no-restricted-imports';
const DUCKDB = '@typescript-eslint/no-restricted-imports';

describe('the lint rules between the threads', () => {
  it('rejects a worker that imports the main thread’s code, even beside the DuckDB fence', async () => {
    const code = "import { messageOf } from '../src/errors.js';\nexport const m = messageOf;\n";
    expect(await ruleIds('workers/new-helper.ts', code)).toEqual([BOUNDARY]);
    expect(await ruleIds('workers/copy-engine/new-helper.ts', code.replace('../src', '../../src'))).toEqual([BOUNDARY]);
  });

  it('lets src/ import workers/shared/ and nothing else under workers/, types included', async () => {
    const shared = "import { scanFile } from '../../workers/shared/file-hash.js';\nexport const s = scanFile;\n";
    expect(await ruleIds('src/backup/new-helper.ts', shared)).toEqual([]);
    const threadCode = "import type { Job } from '../../workers/pausable-loop.js';\nexport type J = Job;\n";
    expect(await ruleIds('src/backup/new-helper.ts', threadCode)).toEqual([BOUNDARY]);
    const entry = "import embedBatch from '../../workers/embed-batch.task.js';\nexport const e = embedBatch;\n";
    expect(await ruleIds('src/workers-host/new-helper.ts', entry)).toEqual([BOUNDARY]);
  });

  it('keeps workers/shared/ to itself, at any depth', async () => {
    expect(
      await ruleIds(
        'workers/shared/new-helper.ts',
        "import { runWorker } from '../worker-runtime.js';\nimport { CANCEL_INDEX } from './copy-engine-protocol.js';\nexport const r = [runWorker, CANCEL_INDEX];\n",
      ),
    ).toEqual([BOUNDARY]);
    expect(
      await ruleIds(
        'workers/shared/duckdb-file/new-helper.ts',
        "import { runWorker } from '../../worker-runtime.js';\nimport { duckdbChecksum } from '../checksum.js';\nexport const r = [runWorker, duckdbChecksum];\n",
      ),
    ).toEqual([BOUNDARY]);
  });

  it('keeps the state machines free of src/ and workers/ code', async () => {
    const code = "import type { BackupEntry } from '../src/backup/backup-entry.js';\nexport type E = BackupEntry;\n";
    expect(await ruleIds('state-machines/new-machine.ts', code)).toEqual([BOUNDARY]);
  });

  it('lets only the database owner and the copy engine open DuckDB; a type opens nothing', async () => {
    const open = "import { DuckDBInstance } from '@duckdb/node-api';\nexport const d = DuckDBInstance;\n";
    const type = "import type { DuckDBConnection } from '@duckdb/node-api';\nexport type C = DuckDBConnection;\n";
    expect(await ruleIds('src/backup/new-helper.ts', open)).toEqual([DUCKDB]);
    expect(await ruleIds('workers/shared/new-helper.ts', open)).toEqual([DUCKDB]);
    expect(await ruleIds('src/store/new-helper.ts', open)).toEqual([]);
    expect(await ruleIds('workers/copy-engine/new-helper.ts', open)).toEqual([]);
    expect(await ruleIds('workers/shared/new-helper.ts', type)).toEqual([]);
  });
});

describe('the thread entry points', () => {
  it('are named for what runs them: one *.worker.ts per long-lived worker, *.task.ts for pool tasks', () => {
    const files = fs
      .readdirSync('workers', { recursive: true, encoding: 'utf8' })
      .map((f) => f.split(path.sep).join('/'));
    const workers = files.filter((f) => f.endsWith('.worker.ts')).map((f) => f.replace(/\.worker\.ts$/, ''));
    expect(workers.sort()).toEqual([...WORKER_NAMES].sort());
    expect(files.filter((f) => f.endsWith('.task.ts')).sort()).toEqual([
      'copy-engine/engine.task.ts',
      'embed-batch.task.ts',
    ]);
  });
});
