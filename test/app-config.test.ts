import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  booleanSetting,
  deleteSetting,
  getRawSetting,
  getSetting,
  numberSetting,
  setSetting,
  settings,
  stringSetting,
} from '../src/store/app-config.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { tempDir } from './helpers/temp-dir.js';

describe('appconfig settings', () => {
  it('reads the default until a value is set, then the value, stored as a plain string', async () => {
    const db = path.join(tempDir(), 'memory.db');
    const store = await MemoryStore.open(db);
    expect(await getSetting(store, settings.debug)).toBe(false);
    await setSetting(store, settings.debug, true);
    expect(await getRawSetting(store, 'debug')).toBe('true');
    await setSetting(store, settings.debug, false);
    expect(await getRawSetting(store, 'debug')).toBe('false');
    await setSetting(store, settings.debug, true);
    await store.close();

    const reopened = await MemoryStore.open(db);
    expect(await getSetting(reopened, settings.debug)).toBe(true);
    expect(await reopened.all(`SELECT count(*) AS n FROM appconfig WHERE key = 'debug'`)).toEqual([{ n: 1 }]);
    await reopened.close();
  });

  it('round-trips numbers and strings without quoting them', async () => {
    const store = await MemoryStore.open(path.join(tempDir(), 'memory.db'));
    const days = numberSetting('test_days', 7);
    const cron = stringSetting('test_cron', '0 2 * * *');
    await setSetting(store, days, 30);
    await setSetting(store, cron, '*/5 * * * *');
    expect(await getSetting(store, days)).toBe(30);
    expect(await getSetting(store, cron)).toBe('*/5 * * * *');
    expect(await getRawSetting(store, 'test_cron')).toBe('*/5 * * * *');
    await deleteSetting(store, 'test_days');
    expect(await getSetting(store, days)).toBe(7);
    await store.close();
  });

  it('falls back to the default for a stored value it cannot read', async () => {
    const store = await MemoryStore.open(path.join(tempDir(), 'memory.db'));
    await store.run(`INSERT INTO appconfig (key, value) VALUES ('flag', '"true"'), ('count', 'many')`);
    expect(await getSetting(store, booleanSetting('flag', false))).toBe(false);
    expect(await getSetting(store, numberSetting('count', 3))).toBe(3);
    await store.close();
  });
});
