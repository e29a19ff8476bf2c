import os from 'node:os';
import { isNuError, messageOf } from '../errors.js';
import { DEFAULT_DELIVERY, deliver } from './deliver.js';
import type { DeliveryPolicy, DeliveryResult, NotifyRequest } from './deliver.js';
import { pingUrl } from './url.js';

// Tells the outside world how automatic backups and re-verifications went, through the URLs the user set
// (nothing is sent without one). Two kinds, as monitoring services expect them:
// - a healthchecks-style ping: GET <url>/start when a run starts, POST <url> with a short text when it
//   succeeded, POST <url>/fail when it failed, found damage, or made the backup but could not send it to the
//   `remote` place (healthchecks.io, Uptime Kuma push monitors, Cronitor-style);
// - a JSON webhook: POST of the run's result.
// Every delivery runs in the background: the backup neither waits for it nor fails because of it. The outcome is
// handed to `record` (status shows it); idle() lets a short-lived process (cron's `auto-backup run`) wait for
// deliveries still under way before it exits, bounded by the delivery policy.

export interface NotifyTargets {
  pingUrl?: string | undefined;
  webhookUrl?: string | undefined;
}

/** What happened, as the webhook's JSON carries it (and the ping's text summarises). */
export interface NotifyReport {
  event: 'backup' | 'reverify' | 'test';
  /** `offsite-failed`: the local backup was made, but its upload to the `remote` place failed. */
  status: 'success' | 'failed' | 'skipped' | 'damaged' | 'offsite-failed';
  trigger?: string | undefined;
  database?: string | undefined;
  path?: string | undefined;
  sizeBytes?: number | undefined;
  durationMs?: number | undefined;
  stateDurations?: Record<string, number> | undefined;
  error?: unknown;
  /** Where the backup was sent (its s3:// URL), when it was. */
  remote?: string | undefined;
  /** Why the upload to the remote place failed, when it did. */
  remoteError?: unknown;
  /** For re-verification: what was checked and what was found damaged. */
  checked?: number | undefined;
  damaged?: { path: string; problem: string }[] | undefined;
  /** One line for a person. */
  summary: string;
}

export interface NotifyOutcome {
  at: Date;
  results: (DeliveryResult & { channel: 'ping' | 'webhook' })[];
}

export interface NotifierOptions {
  policy?: DeliveryPolicy | undefined;
  /** Where an outcome goes when all deliveries of one report are done (never while a backup holds the database). */
  record?: ((outcome: NotifyOutcome) => Promise<void>) | undefined;
  now?: () => Date;
}

export class Notifier {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly stopping = new AbortController();
  private readonly policy: DeliveryPolicy;
  private readonly now: () => Date;

  constructor(private readonly options: NotifierOptions = {}) {
    this.policy = options.policy ?? DEFAULT_DELIVERY;
    this.now = options.now ?? (() => new Date());
  }

  /** A run starts: the ping's /start, in the background. Its result is reported with the run's end. */
  started(targets: NotifyTargets): Promise<DeliveryResult | undefined> {
    if (!targets.pingUrl) return Promise.resolve(undefined);
    return this.track(this.send({ url: pingUrl(targets.pingUrl, 'start'), method: 'GET' }));
  }

  /** A run ended: the ping (success or /fail) and the webhook, in the background; then the outcome is recorded. */
  finished(targets: NotifyTargets, report: NotifyReport, start?: Promise<DeliveryResult | undefined>): void {
    if (!targets.pingUrl && !targets.webhookUrl) return;
    void this.track(this.deliverAll(targets, report, start).then((outcome) => this.record(outcome)));
  }

  /** `notify test`: sends to every configured URL now and waits for the answers. */
  async test(targets: NotifyTargets, report: NotifyReport): Promise<NotifyOutcome> {
    const outcome = await this.track(this.deliverAll(targets, report));
    await this.record(outcome);
    return outcome;
  }

  /** Waits for deliveries under way (each bounded by the delivery policy). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Stops retrying (shutdown) and waits for what is in flight to end. */
  async stop(): Promise<void> {
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, this.policy.timeoutMs).unref())]);
    this.stopping.abort();
    await this.idle();
  }

  private async deliverAll(
    targets: NotifyTargets,
    report: NotifyReport,
    start?: Promise<DeliveryResult | undefined>,
  ): Promise<NotifyOutcome> {
    const jobs: Promise<NotifyOutcome['results'][number] | undefined>[] = [];
    if (start) jobs.push(start.then((r) => r && { ...r, channel: 'ping' as const }));
    if (targets.pingUrl) {
      const failed = report.status !== 'success' && report.status !== 'skipped';
      const request = {
        url: pingUrl(targets.pingUrl, failed ? 'fail' : ''),
        method: 'POST' as const,
        body: pingText(report),
        contentType: 'text/plain; charset=utf-8',
      };
      jobs.push(this.send(request).then((r) => ({ ...r, channel: 'ping' as const })));
    }
    if (targets.webhookUrl) {
      const request = {
        url: targets.webhookUrl,
        method: 'POST' as const,
        body: JSON.stringify(webhookJson(report, this.now())),
        contentType: 'application/json',
      };
      jobs.push(this.send(request).then((r) => ({ ...r, channel: 'webhook' as const })));
    }
    const results = (await Promise.all(jobs)).filter((r): r is NonNullable<typeof r> => r !== undefined);
    return { at: this.now(), results };
  }

  private send(request: NotifyRequest): Promise<DeliveryResult> {
    return deliver(request, this.policy, this.stopping.signal);
  }

  private async record(outcome: NotifyOutcome): Promise<void> {
    await this.options.record?.(outcome).catch(() => undefined);
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(() => undefined);
    return promise;
  }
}

/** The ping's body: one short line, what healthchecks shows in its event log. */
export function pingText(report: NotifyReport): string {
  const error = report.error === undefined ? '' : `\nError: ${messageOf(report.error)}`;
  const hint = isNuError(report.error) && report.error.hint ? `\nTry: ${report.error.hint}` : '';
  return `nu-agent on ${os.hostname()}: ${report.summary}${error}${hint}\n`;
}

/** The webhook's JSON: the run's result, with `ok` for the simplest receivers. */
export function webhookJson(report: NotifyReport, at: Date): Record<string, unknown> {
  return {
    source: 'nu-agent',
    host: os.hostname(),
    at: at.toISOString(),
    event: report.event,
    ok: report.status === 'success' || report.status === 'skipped',
    status: report.status,
    trigger: report.trigger ?? null,
    database: report.database ?? null,
    path: report.path ?? null,
    sizeBytes: report.sizeBytes ?? null,
    durationMs: report.durationMs ?? null,
    stateDurations: report.stateDurations ?? null,
    error: report.error === undefined ? null : messageOf(report.error),
    hint: isNuError(report.error) ? (report.error.hint ?? null) : null,
    remote: report.remote ?? null,
    remoteError: report.remoteError === undefined ? null : messageOf(report.remoteError),
    checked: report.checked ?? null,
    damaged: report.damaged ?? null,
    summary: report.summary,
  };
}
