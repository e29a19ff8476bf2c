import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Decrypter, Encrypter } from 'age-encryption';
import { errnoOf, isNuError, messageOf, messages } from '../errors.js';

// age encryption of backups (https://age-encryption.org), so a backup that leaves the machine can be read back
// with the standard `age` tool and no nu-agent. Keys come from the environment only, never from the database
// (a stolen backup must not carry its key):
// - NUAGENT_BACKUP_RECIPIENTS: a file of age public keys (age1…), one a line, as `age -R` reads;
// - NUAGENT_BACKUP_PASSPHRASE: a passphrase (age's scrypt mode), used when no recipients file is set;
// - NUAGENT_BACKUP_IDENTITY: the file age-keygen wrote (AGE-SECRET-KEY-1…), for verify and restore.

export type EncryptionMode = 'x25519' | 'scrypt';

/** What a manifest says about a backup's encryption. */
export interface EncryptionInfo {
  format: 'age';
  /** x25519: public-key recipients; scrypt: a passphrase. */
  mode: EncryptionMode;
  recipients: number;
}

export interface EncryptionPlan {
  info: EncryptionInfo;
  encrypter: Encrypter;
}

const KEY_ENV = {
  recipients: 'NUAGENT_BACKUP_RECIPIENTS',
  passphrase: 'NUAGENT_BACKUP_PASSPHRASE',
  identity: 'NUAGENT_BACKUP_IDENTITY',
} as const;

/** Lines of a key file without comments and blanks. */
function keyLines(file: string, what: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw messages.offsiteKeysUnusable(`${what} ${file}`, errnoOf(err) === 'ENOENT' ? 'no such file' : messageOf(err));
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** True when the environment configures a key to encrypt with. */
export function hasEncryptionKeys(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env[KEY_ENV.recipients] || env[KEY_ENV.passphrase]);
}

/** The encryption a backup gets from the configured keys, or undefined when none is configured. */
export function encryptionPlan(env: NodeJS.ProcessEnv = process.env): EncryptionPlan | undefined {
  const recipientsFile = env[KEY_ENV.recipients];
  const passphrase = env[KEY_ENV.passphrase];
  const encrypter = new Encrypter();
  if (recipientsFile) {
    // Public keys win over a passphrase: age cannot mix the two in one file, and a recipients file keeps the
    // secret off this machine.
    const lines = keyLines(recipientsFile, `the recipients file (${KEY_ENV.recipients})`);
    if (lines.length === 0) throw messages.offsiteKeysUnusable(recipientsFile, 'it holds no public key');
    for (const line of lines) {
      try {
        encrypter.addRecipient(line);
      } catch (err) {
        throw messages.offsiteKeysUnusable(
          recipientsFile,
          `"${line.slice(0, 24)}…" is not an age public key (${messageOf(err)})`,
        );
      }
    }
    return { info: { format: 'age', mode: 'x25519', recipients: lines.length }, encrypter };
  }
  if (passphrase) {
    encrypter.setPassphrase(passphrase);
    const logN = Number(env.NUAGENT_BACKUP_SCRYPT_LOG_N);
    // A lower work factor only for tests and benchmarks; age's default (2^18) otherwise.
    if (Number.isInteger(logN) && logN >= 10 && logN <= 22) encrypter.setScryptWorkFactor(logN);
    return { info: { format: 'age', mode: 'scrypt', recipients: 1 }, encrypter };
  }
  return undefined;
}

/** A decrypter with every configured identity and the passphrase; throws when none fits the backup's mode. */
export function decrypterFor(info: EncryptionInfo, url: string, env: NodeJS.ProcessEnv = process.env): Decrypter {
  const decrypter = new Decrypter();
  let usable = false;
  const identityFile = env[KEY_ENV.identity];
  if (identityFile && info.mode === 'x25519') {
    for (const line of keyLines(identityFile, `the identity file (${KEY_ENV.identity})`)) {
      if (!line.startsWith('AGE-SECRET-KEY-')) continue;
      try {
        decrypter.addIdentity(line);
        usable = true;
      } catch (err) {
        throw messages.offsiteKeysUnusable(identityFile, `a secret key line is not valid (${messageOf(err)})`);
      }
    }
  }
  const passphrase = env[KEY_ENV.passphrase];
  if (passphrase && info.mode === 'scrypt') {
    decrypter.addPassphrase(passphrase);
    usable = true;
  }
  if (!usable) throw messages.offsiteNoIdentity(url, info.mode === 'scrypt' ? 'passphrase' : 'age public keys');
  return decrypter;
}

/** The ciphertext of `source`, streamed, and its exact size for a plaintext of `plainBytes`. */
export async function encryptStream(
  plan: EncryptionPlan,
  source: Readable,
  plainBytes: number,
): Promise<{ stream: Readable; storedBytes: number }> {
  const web = await plan.encrypter.encrypt(Readable.toWeb(source) as ReadableStream<Uint8Array>);
  return { stream: Readable.fromWeb(web as WebReadableStream<Uint8Array>), storedBytes: web.size(plainBytes) };
}

/** The plaintext of `source`, streamed; a wrong key or a damaged file fails the stream with a NuError. */
export async function decryptStream(
  decrypter: Decrypter,
  source: Readable,
  url: string,
  local = false,
): Promise<Readable> {
  let web: ReadableStream<Uint8Array>;
  try {
    web = await decrypter.decrypt(Readable.toWeb(source) as ReadableStream<Uint8Array>);
  } catch (err) {
    throw decryptionError(err, url, local);
  }
  return Readable.fromWeb(web as WebReadableStream<Uint8Array>);
}

export function describeEncryption(info: EncryptionInfo): string {
  if (info.mode === 'scrypt') return 'encrypted with age, passphrase';
  return `encrypted with age for ${info.recipients} recipient${info.recipients === 1 ? '' : 's'}`;
}

/**
 * Decrypts `source` into a new file `target` (0600); a wrong key or damaged bytes fail with a NuError naming
 * `shown` (the s3:// URL, or the local .age file when `local`).
 */
export async function decryptFile(
  decrypter: Decrypter,
  source: string,
  target: string,
  shown: string,
  options: { signal?: AbortSignal | undefined; local?: boolean } = {},
): Promise<void> {
  try {
    const plain = await decryptStream(decrypter, fs.createReadStream(source), shown, options.local);
    await pipeline(plain, fs.createWriteStream(target, { flags: 'wx', mode: 0o600 }), { signal: options.signal });
  } catch (err) {
    if (options.signal?.aborted) throw messages.cancelled(`decrypting ${shown}`);
    throw isNuError(err) ? err : decryptionError(err, shown, options.local);
  }
}

/** age's errors: no matching identity (a wrong key or passphrase) versus anything about the bytes. */
export function decryptionError(err: unknown, url: string, local = false): Error {
  const text = messageOf(err);
  if (/no identity matched|incorrect passphrase|bad passphrase/i.test(text)) return messages.offsiteWrongKey(url, err);
  const details = `age could not decrypt it: ${text}`;
  return local ? messages.encryptedBackupTampered(url, details, err) : messages.offsiteTampered(url, details, err);
}

/**
 * What an upload gets: --no-encrypt (flag false) sends plaintext on purpose; otherwise the configured keys
 * encrypt it, and with no keys the upload is refused (Litestream once uploaded plaintext without saying so).
 */
export function chooseEncryption(
  flag: boolean | undefined,
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): EncryptionPlan | undefined {
  if (flag === false) return undefined;
  const plan = encryptionPlan(env);
  if (!plan) throw messages.offsiteNeedsKey(url);
  return plan;
}
