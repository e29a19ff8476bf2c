import { messageOf } from '../errors.js';
import { maskSecrets, maskUrl } from './url.js';

// One HTTP request to a URL the user configured, with Node's global fetch: each attempt bounded by an
// AbortSignal timeout, a few attempts with a pause between them, retried only when trying again can help (no
// answer, a timeout, 429 or a 5xx). It never throws: a notification that cannot be delivered is a result to
// show in status, never a failure of the backup it reports on.

export interface NotifyRequest {
  url: string;
  method: 'GET' | 'POST';
  body?: string | undefined;
  contentType?: string | undefined;
}

export interface DeliveryPolicy {
  /** Per attempt. */
  timeoutMs: number;
  attempts: number;
  /** Pause before the 2nd, 3rd… attempt. */
  backoffMs: number[];
}

export const DEFAULT_DELIVERY: DeliveryPolicy = { timeoutMs: 10_000, attempts: 3, backoffMs: [1_000, 4_000] };

export interface DeliveryResult {
  ok: boolean;
  /** The URL, masked. */
  target: string;
  attempts: number;
  /** HTTP status of the last answer, if any. */
  status?: number | undefined;
  /** Why it was not delivered (masked), when !ok. */
  error?: string | undefined;
}

const USER_AGENT = 'nu-agent (backup notifications)';

export async function deliver(
  request: NotifyRequest,
  policy: DeliveryPolicy = DEFAULT_DELIVERY,
  signal?: AbortSignal,
): Promise<DeliveryResult> {
  const target = maskUrl(request.url);
  let last: DeliveryResult = { ok: false, target, attempts: 0, error: 'not sent' };
  for (let attempt = 1; attempt <= Math.max(1, policy.attempts); attempt++) {
    if (attempt > 1) {
      const pause = policy.backoffMs[Math.min(attempt - 2, policy.backoffMs.length - 1)] ?? 0;
      if (!(await sleep(pause, signal))) return { ...last, error: `${last.error}; stopped (shutting down)` };
    }
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const combined = signal ? AbortSignal.any([timeout, signal]) : timeout;
    try {
      const response = await fetch(request.url, {
        method: request.method,
        body: request.body,
        headers: {
          'user-agent': USER_AGENT,
          ...(request.contentType ? { 'content-type': request.contentType } : {}),
        },
        signal: combined,
      });
      // The body is not needed, but reading (or cancelling) it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) return { ok: true, target, attempts: attempt, status: response.status };
      last = { ok: false, target, attempts: attempt, status: response.status, error: `HTTP ${response.status}` };
      if (response.status !== 429 && response.status < 500) return last;
    } catch (err) {
      const why = timeout.aborted
        ? `no answer within ${policy.timeoutMs / 1000} s`
        : signal?.aborted
          ? 'stopped (shutting down)'
          : describeNetworkError(err);
      last = { ok: false, target, attempts: attempt, error: maskSecrets(why) };
      if (signal?.aborted) return last;
    }
  }
  return last;
}

/** fetch's "fetch failed" hides the reason in its cause (ECONNREFUSED, ENOTFOUND, a TLS error). */
function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const code = (cause as { code?: string } | undefined)?.code;
  if (code) return code;
  return cause ? messageOf(cause) : messageOf(err);
}

function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', stop);
      resolve(true);
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', stop, { once: true });
  });
}
