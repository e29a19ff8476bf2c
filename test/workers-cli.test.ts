import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, startCli, waitForOutput } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// End to end, in the compiled CLI: the REPL starts the three workers, a chat message is summarised and indexed
// in the background, /search finds it, and the process exits cleanly (the workers stop before the store closes).

describe('the background workers in the REPL', () => {
  it('summarises and indexes a chat message so that /search finds it, and exits cleanly', async () => {
    const home = path.join(tempDir(), 'home');
    const child = startCli([], { env: { NUAGENT_HOME: home } });
    const run = collect(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));

    child.stdin.write('How do I back up a DuckDB database safely?\n');
    child.stdin.write('/worker status\n');
    await waitForOutput(child, 'Embeddings: local-hash-ngram-v1-384 (local, offline)');
    expect(output).toMatch(/^conversation-summarizer +\w+ +done \d+/m);
    expect(output).toMatch(/^exchange-summarizer +\w+ +done \d+/m);
    expect(output).toMatch(/^embeddings +\w+ +done \d+/m);

    // The exchange is summarised and embedded in the background: ask until it is in. Each round ends with
    // `/worker embeddings`, whose answer shows that the /search before it has answered.
    for (let attempt = 0; !/^1\. \d\.\d\d {2}conversation 1, exchange 1: .*DuckDB/m.test(output); attempt++) {
      if (attempt > 300) throw new Error(`/search never found the exchange:\n${output}`);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      child.stdin.write('/search backing up duckdb\n/worker embeddings\n');
      await waitForOutput(child, 'embeddings  ');
    }
    child.stdin.end('/help\n/exit\n');
    const result = await run;
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('Error');
    expect(output).toMatch(/\/search <text> +Find past conversations/);
    expect(output).toMatch(/\/worker \[status\] .* conversation-summarizer, exchange-summarizer, embeddings/);
  });
});
