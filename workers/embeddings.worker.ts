import { Piscina } from 'piscina';
import { runWorker } from './worker-runtime.js';
import type { EmbedBatchTask } from './embed-batch.task.js';
import type { Outcome } from './pausable-loop.js';
import type { EmbeddingItem } from './shared/protocol.js';

// Computes a vector for each conversation or exchange summary that has none for the current embedding model.
// With an embeddings endpoint configured the main thread calls it (through the port); otherwise the local
// hashed n-gram embedding is computed for the whole chunk in a piscina pool, so this thread only awaits and
// stays free to acknowledge a pause.

const CHUNK = 32;

await runWorker<EmbeddingItem>(({ data, port }) => {
  const { embeddingDimensions: dimensions, embedBatchFile, embedThreads } = data.settings;
  let pool: Piscina<EmbedBatchTask, Float32Array[]> | undefined;
  const localPool = () =>
    (pool ??= new Piscina<EmbedBatchTask, Float32Array[]>({
      filename: embedBatchFile.filename,
      execArgv: embedBatchFile.execArgv,
      minThreads: 0,
      maxThreads: embedThreads,
      idleTimeout: 30_000,
    }));

  return {
    chunkSize: CHUNK,
    async compute(items) {
      const texts = items.map((item) => item.content);
      const reply = await port.embed(texts);
      if (reply.status === 'failed') throw Object.assign(new Error(reply.error.message), reply.error);
      const [vectors, model] =
        reply.status === 'ok'
          ? [reply.vectors, reply.model]
          : [await localPool().run({ texts, dimensions }), reply.model];
      return items.map((item, i): Outcome => {
        const vector = vectors[i];
        if (!vector || vector.length !== dimensions) {
          return {
            ok: false,
            error: {
              message: `the embedding of ${item.kind} ${item.id} has ${vector?.length ?? 0} dimensions, expected ${dimensions}`,
              code: 'EMBEDDING_DIMENSIONS',
            },
          };
        }
        return {
          ok: true,
          result: { type: 'embedding', ref: { kind: item.kind, id: item.id }, content: item.content, vector, model },
        };
      });
    },
    async close() {
      await pool?.destroy();
    },
  };
});
