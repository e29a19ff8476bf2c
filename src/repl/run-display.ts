import type { Output } from '../app.js';
import { createProgressDisplay } from '../ui/progress-display.js';
import type { ProgressDisplay, ProgressDisplayOptions } from '../ui/progress-display.js';
import type { BackupEvent } from '../backup/types.js';
import type { WaitHandle } from './wait-indicator.js';

// A backup or restore on screen: the progress display (step lines, the copy's bar, debug transitions) plus a
// wait line for each supervisor state that lasts, saying what that state waits for. The wait of a state ends
// at the next state, and as soon as a copy reports progress: from then on the bar has the line to itself.

/** What each state waits for, in words that follow "Waiting for". States not named here get a generic line. */
const AWAITED: Record<string, string> = {
  locking: 'the backup lock',
  validating: 'the destination to be checked and the copy threads to start',
  flushing: 'database writes in flight (the background workers) to finish and the checkpoint to run',
  pausing: 'the background workers to reach a safe point',
  holding: 'database operations in flight to finish',
  checkpointing: 'the checkpoint to write recent changes into the database file',
  closing: 'the database to close',
  copying: 'the copy to start',
  verifying: 'the copy to be checked before the database reopens',
  replacing: 'the restored file to be put in place',
  discarding: 'the incomplete copy to be removed',
  reopening: 'the database to reopen',
  checking: 'the reopened database to be checked',
  resuming: 'the background workers to answer after resuming',
  auditing: 'the copy to be read back and checked (the workers already run again)',
  committing: 'the copy to be saved under its final name',
  rejecting: 'the copy that did not pass to be removed',
  recording: 'the run to be recorded',
};
const FINAL = new Set(['done', 'failed']);

export function createRunDisplay(out: Output, options: ProgressDisplayOptions = {}): ProgressDisplay {
  const progress = createProgressDisplay(out, options);
  let wait: WaitHandle | undefined;
  const endWait = () => {
    wait?.end();
    wait = undefined;
  };
  return {
    onEvent(event: BackupEvent) {
      if (event.type === 'progress') endWait();
      progress.onEvent(event);
      if (event.type === 'transition') {
        endWait();
        const what = FINAL.has(event.to) ? undefined : (AWAITED[event.to] ?? `the ${event.to} step to finish`);
        if (what && out.waits) wait = out.waits.begin(what);
      }
    },
    stop() {
      endWait();
      progress.stop();
    },
  };
}
