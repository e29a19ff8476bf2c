import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { resolveDataPaths } from '../paths.js';
import { createS3Client, s3Settings } from './s3-client.js';
import { describeS3Error } from './s3-errors.js';
import { remoteUrl } from './location.js';
import type { RemoteLocation } from './location.js';
import { abandonedUploads, forgetUpload, noteUpload } from './upload-journal.js';

// The few S3 calls offsite backups make, each turning the SDK's errors into one NuError (s3-errors.ts).

/** Marks every object nu-agent uploads, so one left without its manifest is recognised as ours (partial). */
export const OWNER_METADATA = { 'nuagent-backup': '1' };

export interface ListedObject {
  key: string;
  sizeBytes: number;
  lastModified?: Date | undefined;
}

interface InflightGate {
  settled(timeoutMs: number): Promise<void>;
}

const gates = new WeakMap<S3Client, InflightGate>();

/**
 * Counts a client's requests on their way, so a cancelled upload can wait for its parts in flight before
 * aborting the multipart upload: a part that lands after the abort would open it again (S3's documentation says
 * to abort once more in that case; waiting first makes once enough). One counter per client.
 */
function inflightGate(client: S3Client): InflightGate {
  const known = gates.get(client);
  if (known) return known;
  let inflight = 0;
  const idle: (() => void)[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      inflight++;
      try {
        return await next(args);
      } finally {
        if (--inflight === 0) for (const resolve of idle.splice(0)) resolve();
      }
    },
    { step: 'initialize', name: 'nuagentInflightCounter' },
  );
  const gate: InflightGate = {
    settled: (timeoutMs) =>
      inflight === 0
        ? Promise.resolve()
        : new Promise((resolve) => {
            const timer = setTimeout(resolve, timeoutMs);
            idle.push(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
  };
  gates.set(client, gate);
  return gate;
}

const journaled = new WeakSet<S3Client>();

/**
 * Notes each multipart upload the moment the server gives it an id, and forgets it once completed or aborted
 * (upload-journal.ts): whoever sends it (lib-storage or us), the note tells a later command whether its process
 * is gone.
 */
function journalUploads(client: S3Client, home: string, endpoint: string): void {
  if (journaled.has(client)) return;
  journaled.add(client);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as { Bucket?: string; Key?: string; UploadId?: string };
      if (context.commandName === 'CreateMultipartUploadCommand') {
        const uploadId = (result.output as { UploadId?: string }).UploadId;
        if (uploadId && input.Bucket && input.Key)
          noteUpload(home, { endpoint, bucket: input.Bucket, key: input.Key, uploadId });
      } else if (
        (context.commandName === 'CompleteMultipartUploadCommand' ||
          context.commandName === 'AbortMultipartUploadCommand') &&
        input.UploadId
      )
        forgetUpload(home, input.UploadId);
      return result;
    },
    { step: 'initialize', name: 'nuagentUploadJournal' },
  );
}

export class RemoteStore {
  readonly url: string;
  readonly endpoint: string | undefined;
  private readonly gate: InflightGate;
  /** Where this machine's open uploads are noted (NUAGENT_HOME). */
  private readonly home: string;

  constructor(
    readonly location: RemoteLocation,
    readonly client: S3Client = createS3Client(),
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.url = remoteUrl(location);
    this.endpoint = s3Settings(env).endpoint;
    this.gate = inflightGate(client);
    this.home = resolveDataPaths(env).home;
    journalUploads(client, this.home, this.journalEndpoint);
  }

  private get journalEndpoint(): string {
    return this.endpoint ?? 'aws';
  }

  /**
   * Aborts the multipart uploads under this place that a process of this machine began and did not live to finish
   * or abort (SIGKILL, or a server that died under it); uploads of live processes are left alone. Returns the
   * URLs of the objects whose upload was aborted. Best effort: an abort that fails is tried again next time.
   */
  async abortAbandonedUploads(signal?: AbortSignal): Promise<string[]> {
    const notes = abandonedUploads(this.home, {
      endpoint: this.journalEndpoint,
      bucket: this.location.bucket,
      prefix: this.location.prefix,
    });
    const aborted: string[] = [];
    for (const note of notes) {
      if (signal?.aborted) break;
      // Only our object names directly under the place: a note never names anything else, but check anyway.
      const name = note.key.slice(this.location.prefix.length);
      if (name.includes('/') || !/\.db(\.age)?$/.test(name)) continue;
      if ((await this.abortUpload(note.key, note.uploadId)) === 'aborted') aborted.push(remoteUrl(this.location, name));
    }
    return aborted;
  }

  error(err: unknown, doing: string, midTransfer = false, url = this.url): Error {
    return describeS3Error(err, { url, doing, midTransfer, endpoint: this.endpoint });
  }

  /** Resolves once no request of this store's client is on its way, or after timeoutMs. */
  settled(timeoutMs: number): Promise<void> {
    return this.gate.settled(timeoutMs);
  }

  /** Every object under `prefix` (the location's prefix unless given), following continuation tokens. */
  async list(prefix = this.location.prefix, signal?: AbortSignal, maxKeys?: number): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.location.bucket,
            Prefix: prefix,
            ContinuationToken: token,
            MaxKeys: maxKeys,
          }),
          { abortSignal: signal },
        );
        for (const o of page.Contents ?? [])
          if (o.Key) out.push({ key: o.Key, sizeBytes: o.Size ?? 0, lastModified: o.LastModified });
        token = page.IsTruncated && maxKeys === undefined ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.error(err, 'listing');
    }
    return out;
  }

  /** Multipart uploads begun and neither completed nor aborted; empty where the service cannot list them. */
  async unfinishedUploads(
    prefix = this.location.prefix,
  ): Promise<{ key: string; uploadId: string; initiated?: Date }[]> {
    try {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({ Bucket: this.location.bucket, Prefix: prefix }),
      );
      return (page.Uploads ?? []).flatMap((u) =>
        u.Key && u.UploadId ? [{ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated }] : [],
      );
    } catch {
      // Some S3-compatible servers do not implement this listing; list then shows what it can see.
      return [];
    }
  }

  /** The object's size and metadata, or undefined when there is no such object. */
  async head(key: string): Promise<{ sizeBytes: number; metadata: Record<string, string> } | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: key }));
      return { sizeBytes: head.ContentLength ?? 0, metadata: head.Metadata ?? {} };
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw this.error(err, 'checking');
    }
  }

  async getText(key: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key }), {
        abortSignal: signal,
      });
      return await got.Body!.transformToString('utf8');
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
      throw this.error(err, 'reading');
    }
  }

  async getStream(key: string, signal?: AbortSignal): Promise<{ stream: Readable; sizeBytes: number | undefined }> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key }), {
        abortSignal: signal,
      });
      return { stream: got.Body as Readable, sizeBytes: got.ContentLength };
    } catch (err) {
      throw this.error(err, 'downloading');
    }
  }

  async putText(key: string, text: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.location.bucket,
          Key: key,
          Body: text,
          ContentType: 'application/json',
          Metadata: OWNER_METADATA,
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      throw this.error(err, 'uploading the manifest of');
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: key }));
    } catch (err) {
      throw this.error(err, 'deleting');
    }
  }

  /** Best effort, for cleaning up after a failure: returns whether it worked rather than throwing. */
  async tryDelete(key: string): Promise<boolean> {
    return this.delete(key).then(
      () => true,
      () => false,
    );
  }

  async tryAbortUpload(key: string, uploadId: string): Promise<boolean> {
    return (await this.abortUpload(key, uploadId)) !== 'failed';
  }

  /** `gone`: the server knows no such upload (lib-storage aborted it itself, or it completed). */
  private async abortUpload(key: string, uploadId: string): Promise<'aborted' | 'gone' | 'failed'> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.location.bucket, Key: key, UploadId: uploadId }),
      );
      return 'aborted';
    } catch (err) {
      if ((err as { name?: string }).name !== 'NoSuchUpload') return 'failed';
      forgetUpload(this.home, uploadId);
      return 'gone';
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}
