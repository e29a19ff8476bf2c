import { AUTO_TRIGGERS, plannerPolicy } from '../auto-backup/retention-adapter.js';
import type { OffsitePort } from '../auto-backup/offsite-port.js';
import { chooseEncryption } from './encryption.js';
import { parseRemotePlace } from './location.js';
import { pruneRemote } from './remote-catalog.js';
import { abortLeftoverUploads } from './remote-commands.js';
import { RemoteStore } from './remote-store.js';
import { uploadBackup } from './upload.js';

// The auto-backup's `remote` setting: after a successful automatic backup (and its local retention), the same
// verified file goes to the remote place, encrypted with the configured keys (an automatic upload never sends
// plaintext: without keys it fails with the age-keygen hint), and the same retention rules then run there,
// limited to the automatic backups as they are locally.

export const offsiteForAutoBackup: OffsitePort = {
  async send(file, place, options) {
    const store = new RemoteStore(parseRemotePlace(place));
    try {
      const encryption = chooseEncryption(undefined, place);
      await abortLeftoverUploads(store, (text) => options.onEvent?.({ type: 'step', text }), options.signal);
      const upload = await uploadBackup(file, store, { encryption, signal: options.signal, onEvent: options.onEvent });
      const pruned = await pruneRemote(store, {
        policy: plannerPolicy(options.policy),
        dryRun: false,
        now: options.now,
        triggers: AUTO_TRIGGERS,
      });
      return {
        url: upload.url,
        objectKey: upload.objectKey,
        pruned: pruned.removed.map((p) => p.entry.path),
        pruneFailures: pruned.failed.map((f) => `${f.entry.path}: ${f.error}`),
      };
    } finally {
      store.destroy();
    }
  },
};
