import type { BackupService } from '../../src/app.js';
import type { RestoreOutcome } from '../../src/backup/restore-types.js';
import type { BackupOutcome, BackupRequest } from '../../src/backup/types.js';
import { NuError } from '../../src/errors.js';

// A BackupService whose runs the test decides, passed through the auto-backup's seam (AutoBackupDeps.backups):
// for what cannot be produced on demand with the real supervisor, such as a manual backup that is still running
// at the very moment a scheduled one comes due. Tests that need real backups use the real service.

export class FakeBackupService implements BackupService {
  readonly requests: BackupRequest[] = [];
  private running = 0;
  /**
   * With a clock (the auto-backup's clock seam), a successful run's snapshot is stamped with its time, as the
   * real service stamps it with the moment the file was quiescent.
   */
  constructor(private readonly clock?: () => Date) {}

  /** What the next run does; by default, succeeds at once. */
  behaviour: (request: BackupRequest) => Promise<BackupOutcome> = async (request) => success(request);

  get busy(): boolean {
    return this.running > 0;
  }

  async run(request: BackupRequest): Promise<BackupOutcome> {
    this.requests.push(request);
    this.running++;
    try {
      const outcome = await this.behaviour(request);
      return outcome.ok && this.clock ? { ...outcome, snapshotAt: this.clock() } : outcome;
    } finally {
      this.running--;
    }
  }

  /** The auto-backup never restores; a test that restores uses the real service. */
  async restore(): Promise<RestoreOutcome> {
    const error = new NuError('this fake only backs up', { code: 'TEST_FAILURE', hint: 'Use the real service.' });
    return { ok: false, error, rolledBack: false, stateDurations: {}, warnings: [] };
  }

  /** Starts a backup that stays running until the returned function is called (a manual one, say). */
  hold(trigger: BackupRequest['trigger'] = 'manual'): { done: Promise<BackupOutcome>; finish: () => void } {
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const previous = this.behaviour;
    this.behaviour = async (request) => {
      this.behaviour = previous;
      await gate;
      return success(request);
    };
    const done = this.run({ trigger });
    return { done, finish };
  }
}

export function success(request: BackupRequest, name = `backup-${Date.now()}.db`): BackupOutcome {
  return {
    ok: true,
    path: `${request.directory ?? '/nowhere'}/${name}`,
    manifestPath: `${request.directory ?? '/nowhere'}/${name}.manifest.json`,
    sizeBytes: 4096,
    hashAlgorithm: 'xxh3-128',
    copy: 'copied',
    hash: '00',
    snapshotAt: new Date(),
    durationMs: 5,
    stateDurations: {},
  };
}

export function failure(message = 'the copy failed half-way'): BackupOutcome {
  return {
    ok: false,
    error: new NuError(message, { code: 'TEST_FAILURE', hint: 'Try again.' }),
    stateDurations: {},
  };
}
