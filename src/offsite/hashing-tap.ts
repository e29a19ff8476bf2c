import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

// A pass-through that counts and hashes what flows through it: the SHA-256 of the stored object is taken from
// the very bytes handed to the upload (and, on the way back, from the bytes as they arrive).

export class HashingTap extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void) {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  /** The hex digest; call once, after the stream ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}
