// The offline embedding: a deterministic "hashing trick" vector, so /search works without a network or a model
// file. Features are the words, adjacent word pairs and the character trigrams of each word; each is hashed to
// one of `dimensions` cells with a hashed sign (so collisions cancel out on average instead of piling up), and the
// vector is L2-normalised so that cosine similarity is a plain dot product. Shared words and shared word pieces
// ("backup", "backups") both raise the similarity; that is all it knows about meaning.

export const LOCAL_EMBEDDING_VERSION = 'local-hash-ngram-v1';

export function localEmbeddingModel(dimensions: number): string {
  return `${LOCAL_EMBEDDING_VERSION}-${dimensions}`;
}

const WORD_WEIGHT = 1;
const PAIR_WEIGHT = 0.5;
const TRIGRAM_WEIGHT = 0.35;

export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

export function embedLocal(text: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  const tokens = words(text);
  const add = (feature: string, weight: number) => {
    const h = fnv1a(feature);
    const sign = h & 0x80000000 ? -1 : 1;
    vector[(h & 0x7fffffff) % dimensions]! += sign * weight;
  };
  for (let i = 0; i < tokens.length; i++) {
    const word = tokens[i]!;
    add(`w:${word}`, WORD_WEIGHT);
    if (i + 1 < tokens.length) add(`p:${word} ${tokens[i + 1]!}`, PAIR_WEIGHT);
    const padded = `#${word}#`;
    for (let j = 0; j + 3 <= padded.length; j++) add(`c:${padded.slice(j, j + 3)}`, TRIGRAM_WEIGHT);
  }
  return normalise(vector);
}

function normalise(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const v of vector) sum += v * v;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}

/** 32-bit FNV-1a over UTF-16 code units: fast, stable across runs and platforms. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
