import type { SqlRunner } from './memory-store.js';

// Settings in the appconfig table: one key per setting, the value stored as a plain string ("true", "7",
// "0 2 * * *"), never JSON-quoted (a value stored as `"true"` makes every reader strip the quotes).
// A setting knows its key, its default and how to read and write its value, so a typo in a key or a type is a
// compile error rather than a silently ignored row. Other modules declare their own settings with these helpers.

export interface Setting<T> {
  readonly key: string;
  readonly defaultValue: T;
  /** Returns undefined for a stored value it cannot read; the default is used then. */
  parse(raw: string): T | undefined;
  format(value: T): string;
}

export function booleanSetting(key: string, defaultValue: boolean): Setting<boolean> {
  return {
    key,
    defaultValue,
    parse: (raw) => (raw === 'true' ? true : raw === 'false' ? false : undefined),
    format: (value) => (value ? 'true' : 'false'),
  };
}

export function numberSetting(key: string, defaultValue: number): Setting<number> {
  return {
    key,
    defaultValue,
    parse: (raw) => (raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : undefined),
    format: (value) => String(value),
  };
}

export function stringSetting(key: string, defaultValue: string): Setting<string> {
  return { key, defaultValue, parse: (raw) => raw, format: (value) => value };
}

/** The application's own settings. Others live beside the code that uses them. */
export const settings = {
  debug: booleanSetting('debug', false),
};

export async function getSetting<T>(db: SqlRunner, setting: Setting<T>): Promise<T> {
  const raw = await getRawSetting(db, setting.key);
  if (raw === undefined) return setting.defaultValue;
  return setting.parse(raw) ?? setting.defaultValue;
}

export async function setSetting<T>(db: SqlRunner, setting: Setting<T>, value: T): Promise<void> {
  await db.run(
    `INSERT INTO appconfig (key, value, updated_at) VALUES ($1, $2, now())
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    [setting.key, setting.format(value)],
  );
}

/** The stored string, or undefined when the key was never set. */
export async function getRawSetting(db: SqlRunner, key: string): Promise<string | undefined> {
  const rows = await db.all<{ value: string }>(`SELECT value FROM appconfig WHERE key = $1`, [key]);
  return rows[0]?.value;
}

export async function deleteSetting(db: SqlRunner, key: string): Promise<void> {
  await db.run(`DELETE FROM appconfig WHERE key = $1`, [key]);
}
