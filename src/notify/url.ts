import { messages } from '../errors.js';

// Notification URLs carry their secret in the URL itself (healthchecks' check UUID or ping key, an Uptime Kuma
// push token, a chat webhook's token), so they are never shown whole: status, `notify test`, errors and the
// JSON for monitoring all show the masked form.

/** An http(s) URL without a fragment; `off`, `none` or an empty value means "not set" (undefined). */
export function parseNotifyUrl(name: string, raw: string): string | undefined {
  const text = raw.trim();
  if (['', 'off', 'none'].includes(text.toLowerCase())) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw messages.notifyUrlInvalid(name, crudeMask(text));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw messages.notifyUrlInvalid(name, maskUrl(text));
  url.hash = '';
  return url.toString();
}

const keep = (segment: string) => (segment.length < 8 ? segment : `${segment.slice(0, 3)}…`);

/**
 * `https://hc-ping.com/3fa…` for `https://hc-ping.com/3fa85f64-5717-4562-b3fc-2c963f66afa6`: the scheme, host
 * and port stay, a user name or password becomes `***`, every path segment of 8 characters or more and every
 * query value keep only their first 3 characters. Short words such as `api` or `push` stay readable.
 */
export function maskUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return crudeMask(raw);
  }
  const auth = url.username || url.password ? '***@' : '';
  const pathText = url.pathname
    .split('/')
    .map((s) => keep(decodeURIComponent(s)))
    .join('/');
  const query = [...url.searchParams.keys()].map((k) => `${k}=…`).join('&');
  return `${url.protocol}//${auth}${url.host}${pathText}${query ? `?${query}` : ''}`;
}

/** Any URL inside a text (an error message from the network stack) masked the same way. */
export function maskSecrets(text: string): string {
  return text.replace(/\bhttps?:\/\/[^\s"'<>]+/gi, (m) => maskUrl(m));
}

/** For text that does not even parse as a URL: every long run between separators shortened. */
function crudeMask(text: string): string {
  return text.replace(/[^/:.@?&=\s]{8,}/g, keep);
}

/** The ping URL with `/start` or `/fail` appended to its path (a query string stays at the end). */
export function pingUrl(base: string, suffix: '' | 'start' | 'fail'): string {
  if (!suffix) return base;
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${suffix}`;
  return url.toString();
}
