import { messages } from '../errors.js';

// Where an offsite backup goes: `s3://BUCKET/PREFIX/NAME.db` names one backup, `s3://BUCKET/PREFIX/` (ending in
// a slash, or a bare bucket) a place that receives the default name. The manifest is `<NAME.db>.manifest.json`
// under the same prefix; an encrypted backup's object is `<NAME.db>.age`, so the standard `age` tool's
// conventions hold for anyone who downloads it by hand.

export interface RemoteLocation {
  bucket: string;
  /** The key prefix, empty or ending in `/`. */
  prefix: string;
  /** The backup's name (`NAME.db`), when the URL names one. */
  name?: string | undefined;
}

export const S3_SCHEME = 's3://';
export const AGE_SUFFIX = '.age';

export function isRemote(target: string | undefined): target is string {
  return target !== undefined && target.toLowerCase().startsWith(S3_SCHEME);
}

// Bucket names as S3 allows them (R2, B2 and MinIO accept a subset of the same).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function parseRemote(url: string): RemoteLocation {
  const rest = url.slice(S3_SCHEME.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? '' : rest.slice(slash + 1);
  if (!BUCKET.test(bucket)) throw messages.offsiteBadUrl(url, `"${bucket}" is not a bucket name`);
  if (key.split('/').some((part, i, all) => part === '' && i < all.length - 1))
    throw messages.offsiteBadUrl(url, 'empty path segment (//)');
  if (key.split('/').some((part) => part === '.' || part === '..'))
    throw messages.offsiteBadUrl(url, '. and .. are not allowed in the path');
  if (key === '' || key.endsWith('/')) return { bucket, prefix: key };
  const cut = key.lastIndexOf('/') + 1;
  const name = key.slice(cut);
  if (name.endsWith('.manifest.json') || name.endsWith(AGE_SUFFIX))
    throw messages.offsiteBadUrl(
      url,
      `name the backup (NAME.db), not its ${name.endsWith(AGE_SUFFIX) ? 'object' : 'manifest'}`,
    );
  return { bucket, prefix: key.slice(0, cut), name };
}

/** A location that must name a place, not a backup (list, prune, the auto-backup setting). */
export function parseRemotePlace(url: string): RemoteLocation {
  const location = parseRemote(url);
  if (location.name !== undefined)
    throw messages.offsiteBadUrl(url, 'this needs a place ending in / (s3://BUCKET/PREFIX/), not one backup');
  return location;
}

/** A location that must name one backup (verify, restore). */
export function parseRemoteBackup(url: string): RemoteLocation & { name: string } {
  const location = parseRemote(url);
  if (location.name === undefined)
    throw messages.offsiteBadUrl(url, 'name one backup: s3://BUCKET/PREFIX/NAME.db (backup list shows them)');
  return { ...location, name: location.name };
}

/** The auto-backup `remote` setting: off (''), or a place, written back with its trailing slash. */
export function parseRemoteSetting(raw: string): string {
  const text = raw.trim();
  if (['', 'off', 'none', 'false', 'no'].includes(text.toLowerCase())) return '';
  if (!isRemote(text)) throw messages.offsiteBadUrl(text, 'the remote setting takes s3://BUCKET/PREFIX/ or off');
  return remoteUrl(parseRemotePlace(text.endsWith('/') ? text : `${text}/`));
}

export function remoteUrl(location: RemoteLocation, name = location.name): string {
  return `${S3_SCHEME}${location.bucket}/${location.prefix}${name ?? ''}`;
}

export const manifestKey = (location: RemoteLocation, name: string) => `${location.prefix}${name}.manifest.json`;
export const objectKey = (location: RemoteLocation, name: string, encrypted: boolean) =>
  `${location.prefix}${name}${encrypted ? AGE_SUFFIX : ''}`;
