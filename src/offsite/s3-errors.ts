import { NuError, errnoOf, messages } from '../errors.js';

// What went wrong talking to an S3-compatible service, as one Error and one Try line a user can act on. The
// SDK reports the same fault in different shapes: a service error code from an XML body (NoSuchBucket,
// InvalidAccessKeyId), a bare HTTP status for HEAD requests (no body), a Node socket error (ECONNREFUSED,
// ENOTFOUND) or a credentials-provider error before anything was sent.

export interface S3Failure {
  /** The URL the user gave (s3://bucket/prefix/…). */
  url: string;
  /** What we were doing, in words: "uploading", "listing", "downloading"… */
  doing: string;
  /** True once bytes of an upload or download were on their way: a dropped connection is then the server dying. */
  midTransfer?: boolean | undefined;
  endpoint?: string | undefined;
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'TimeoutError']);
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);

/** The innermost error code: the SDK wraps socket errors, lib-storage wraps part failures. */
function codesOf(err: unknown): { code: string | undefined; status: number | undefined; name: string | undefined } {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const e = current as SdkErrorShape & { cause?: unknown; errors?: unknown[] };
    const code = errnoOf(e) ?? e.Code;
    const status = e.$metadata?.httpStatusCode;
    const name = e.name;
    if (code || (name && name !== 'Error' && name !== 'Unknown') || status) return { code, status, name };
    current = e.cause ?? e.errors?.[0];
  }
  return { code: undefined, status: undefined, name: undefined };
}

export function describeS3Error(err: unknown, failure: S3Failure): Error {
  if (err instanceof NuError) return err;
  const { code, status, name } = codesOf(err);
  const key = code ?? name ?? '';
  const where = failure.endpoint ?? 'the S3 endpoint';
  if (DNS.has(key)) return messages.offsiteDnsFailed(where, failure.url, err);
  if (CONNECTION_LOST.has(key) || (failure.midTransfer && UNREACHABLE.has(key)))
    return messages.offsiteConnectionLost(failure.url, failure.doing, err);
  if (UNREACHABLE.has(key)) return messages.offsiteUnreachable(where, failure.url, err);
  if (key === 'NoSuchBucket') return messages.offsiteNoBucket(failure.url, err);
  if (
    key === 'InvalidAccessKeyId' ||
    key === 'SignatureDoesNotMatch' ||
    key === 'InvalidToken' ||
    key === 'ExpiredToken'
  )
    return messages.offsiteBadCredentials(failure.url, key, err);
  if (key === 'CredentialsProviderError') return messages.offsiteNoCredentials(failure.url, err);
  if (key === 'RequestTimeTooSkewed') return messages.offsiteClockSkew(failure.url, err);
  if (key === 'AccessDenied' || key === 'AllAccessDisabled' || status === 403)
    return messages.offsiteAccessDenied(failure.url, failure.doing, err);
  if (/region is missing/i.test(err instanceof Error ? err.message : '')) return messages.offsiteNoRegion(err);
  return messages.offsiteFailed(failure.url, failure.doing, err);
}
