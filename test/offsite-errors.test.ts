import { describe, expect, it } from 'vitest';
import { isNuError } from '../src/errors.js';
import type { NuError } from '../src/errors.js';
import { parseRemote, parseRemoteBackup, parseRemotePlace, parseRemoteSetting } from '../src/offsite/location.js';
import { describeS3Error } from '../src/offsite/s3-errors.js';
import { formatError } from '../src/report.js';

// The faults that cannot be produced against a local server (a DNS failure would query a real resolver; s3rver
// checks no policies, and the SDK corrects clock skew on its own retry) are classified from the shapes the AWS
// SDK v3 gives them; the others are produced for real in offsite-upload and offsite-cli tests.

const failure = { url: 's3://bucket/nu/', doing: 'listing', endpoint: 'https://s3.example.test' };

function sdkError(name: string, status: number): Error {
  return Object.assign(new Error(name === 'Unknown' ? 'UnknownError' : `${name} message`), {
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
  });
}

const errno = (code: string, message: string) => Object.assign(new Error(message), { code });

function lines(err: unknown): string[] {
  return formatError(describeS3Error(err, failure));
}

describe('what a user reads for each S3 fault', () => {
  it.each([
    [
      'DNS failure',
      errno('ENOTFOUND', 'getaddrinfo ENOTFOUND s3.example.test'),
      'OFFSITE_DNS_FAILED',
      /resolve the host name/,
    ],
    [
      'endpoint unreachable',
      errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9'),
      'OFFSITE_UNREACHABLE',
      /cannot connect/,
    ],
    [
      'connect timeout',
      Object.assign(new Error('timeout'), { name: 'TimeoutError' }),
      'OFFSITE_UNREACHABLE',
      /cannot connect/,
    ],
    ['wrong access key', sdkError('InvalidAccessKeyId', 403), 'OFFSITE_BAD_CREDENTIALS', /refused the credentials/],
    ['wrong secret', sdkError('SignatureDoesNotMatch', 403), 'OFFSITE_BAD_CREDENTIALS', /SignatureDoesNotMatch/],
    [
      'no credentials at all',
      Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
      'OFFSITE_NO_CREDENTIALS',
      /no S3 credentials were found/,
    ],
    ['bucket missing', sdkError('NoSuchBucket', 404), 'OFFSITE_NO_BUCKET', /does not exist/],
    ['access denied', sdkError('AccessDenied', 403), 'OFFSITE_ACCESS_DENIED', /access denied while listing/],
    ['a HEAD refused (no body, status only)', sdkError('Unknown', 403), 'OFFSITE_ACCESS_DENIED', /access denied/],
    ['clock skew', sdkError('RequestTimeTooSkewed', 403), 'OFFSITE_CLOCK_SKEW', /clock is too far/],
    ['no region', new Error('Region is missing'), 'OFFSITE_NO_REGION', /no AWS region/],
  ])('%s', (_what, err, code, message) => {
    const described = describeS3Error(err, failure);
    expect(isNuError(described) && described.code).toBe(code);
    const [error, hint, ...rest] = lines(err);
    expect(error).toMatch(message);
    expect(hint).toMatch(/^Try: /);
    expect(rest).toEqual([]);
  });

  it('calls a dropped connection during a transfer the server dying, not an address problem', () => {
    const reset = errno('ECONNRESET', 'socket hang up');
    const refused = errno('ECONNREFUSED', 'connect ECONNREFUSED');
    expect((describeS3Error(reset, failure) as NuError).code).toBe('OFFSITE_CONNECTION_LOST');
    expect((describeS3Error(refused, { ...failure, midTransfer: true }) as NuError).code).toBe(
      'OFFSITE_CONNECTION_LOST',
    );
  });

  it('finds the code of a socket error wrapped by the SDK', () => {
    const wrapped = Object.assign(new Error('request failed'), { cause: errno('ENOTFOUND', 'getaddrinfo ENOTFOUND') });
    expect((describeS3Error(wrapped, failure) as NuError).code).toBe('OFFSITE_DNS_FAILED');
  });
});

describe('s3:// locations', () => {
  it('reads a backup, a place and a bare bucket', () => {
    expect(parseRemote('s3://my-bucket/team/nu/x.db')).toEqual({
      bucket: 'my-bucket',
      prefix: 'team/nu/',
      name: 'x.db',
    });
    expect(parseRemote('s3://my-bucket/team/')).toEqual({ bucket: 'my-bucket', prefix: 'team/' });
    expect(parseRemote('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
  });

  it.each([
    ['s3://B/x.db', /not a bucket name/],
    ['s3://bucket//x.db', /empty path segment/],
    ['s3://bucket/../x.db', /\.\. are not allowed/],
    ['s3://bucket/x.db.manifest.json', /not its manifest/],
    ['s3://bucket/x.db.age', /not its object/],
  ])('refuses %s', (url, reason) => {
    expect(() => parseRemote(url)).toThrow(reason);
  });

  it('asks list and prune for a place, verify and restore for one backup', () => {
    expect(() => parseRemotePlace('s3://bucket/x.db')).toThrow(/place ending in \//);
    expect(() => parseRemoteBackup('s3://bucket/nu/')).toThrow(/name one backup/);
  });

  it('keeps the auto-backup remote setting as a place, or off', () => {
    expect(parseRemoteSetting('s3://bucket/auto')).toBe('s3://bucket/auto/');
    expect(parseRemoteSetting('off')).toBe('');
    expect(() => parseRemoteSetting('/home/me/backups')).toThrow(/s3:\/\/BUCKET\/PREFIX\/ or off/);
  });
});
