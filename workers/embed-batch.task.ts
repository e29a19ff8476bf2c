import { embedLocal } from './shared/local-embedding.js';

// The piscina task: local embeddings for a batch of texts. It runs in the pool's threads so that the long-lived
// embeddings worker only awaits it, and stays free to acknowledge a pause while a batch is computed.

export interface EmbedBatchTask {
  texts: string[];
  dimensions: number;
}

export default function embedBatch(task: EmbedBatchTask): Float32Array[] {
  return task.texts.map((text) => embedLocal(text, task.dimensions));
}
