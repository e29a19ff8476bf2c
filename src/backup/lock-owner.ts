import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Who holds a backup lock, and whether that process still lives. The owner record sits inside the lock
// directory (0700, made by us): it is written into a private directory that is then renamed onto the lock's
// name, so nobody ever sees a lock without its complete record, and nobody else can plant one that we trust.
//
// Liveness, on this host only: the pid exists, and its start time (field 22 of /proc/<pid>/stat, in clock
// ticks since boot) is the one recorded, so a pid reused by another program does not keep a dead lock alive.
// The boot id tells a reboot apart (every holder died), the pid namespace a container that shares our hostname
// (its pids mean nothing here). A holder on another host cannot be checked: see lockHolderState.

export const OWNER_FILE = 'owner.json';

export interface OwnerRecord {
  format: 'nu-agent-backup-lock';
  pid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id, where there is one. */
  bootId?: string | undefined;
  /** The target of /proc/self/ns/pid, where there is one. */
  pidNamespace?: string | undefined;
  /** Field 22 of /proc/<pid>/stat: the process's start, in clock ticks since boot. */
  startTicks?: string | undefined;
  /** Makes each lock distinct: a take-over and a release check they act on the directory they examined. */
  token: string;
  since: string;
}

/**
 * running / stopped: a live process on this host (stopped: state T, e.g. Ctrl-Z; it keeps its lock).
 * dead: gone, or its pid now belongs to another program, or the host rebooted since.
 * elsewhere: another host or pid namespace; nu-agent cannot see whether it lives.
 */
export type HolderState = 'running' | 'stopped' | 'dead' | 'elsewhere';

export function ownRecord(): OwnerRecord {
  return {
    format: 'nu-agent-backup-lock',
    pid: process.pid,
    host: os.hostname(),
    bootId: bootId(),
    pidNamespace: pidNamespace(),
    startTicks: procStat(process.pid)?.startTicks,
    token: crypto.randomBytes(16).toString('hex'),
    since: new Date().toISOString(),
  };
}

/** Writes the record into a directory of ours that nobody else sees yet (0600, written whole, synced). */
export function writeOwnerRecord(dir: string, record: OwnerRecord): void {
  const fd = fs.openSync(path.join(dir, OWNER_FILE), 'wx', 0o600);
  try {
    fs.writeFileSync(fd, JSON.stringify(record) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export type OwnerRead = { ok: true; record: OwnerRecord } | { ok: false; missing: boolean; why: string };

/**
 * The record inside a lock directory, trusted only if it is a plain file of ours that nobody else can write
 * (never following a symbolic link), and complete.
 */
export function readOwnerRecord(dir: string): OwnerRead {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, OWNER_FILE), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, missing: code === 'ENOENT', why: `its owner record cannot be read (${code ?? 'error'})` };
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.size > 4096) return { ok: false, missing: false, why: 'its owner record is not ours' };
    const foreign = foreignOwner(stat);
    if (foreign) return { ok: false, missing: false, why: `its owner record ${foreign}` };
    const record = JSON.parse(fs.readFileSync(fd, 'utf8')) as Partial<OwnerRecord>;
    if (
      record.format !== 'nu-agent-backup-lock' ||
      !Number.isInteger(record.pid) ||
      typeof record.host !== 'string' ||
      typeof record.token !== 'string' ||
      typeof record.since !== 'string'
    )
      return { ok: false, missing: false, why: 'its owner record is not one nu-agent wrote' };
    return { ok: true, record: record as OwnerRecord };
  } catch {
    return { ok: false, missing: false, why: 'its owner record is not one nu-agent wrote' };
  } finally {
    fs.closeSync(fd);
  }
}

/** Why a file or directory is not ours alone (another user made it, or others may write it), or undefined. */
export function foreignOwner(stat: fs.Stats): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined; // no POSIX owners and modes (Windows): nothing to go by
  if (stat.uid !== uid) return `belongs to ${describeUser(stat.uid)}`;
  if ((stat.mode & 0o022) !== 0) return 'can be written by other users';
  return undefined;
}

/** "user 1001 (alice)", or "user 1001" where the name cannot be found in /etc/passwd (LDAP, no such file). */
export function describeUser(uid: number): string {
  let name: string | undefined;
  try {
    const line = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(uid));
    name = line?.split(':')[0];
  } catch {
    // no /etc/passwd (Windows), or unreadable: the number alone
  }
  return name ? `user ${uid} (${name})` : `user ${uid}`;
}

export function lockHolderState(record: OwnerRecord): HolderState {
  if (record.pid === process.pid && record.host === os.hostname()) return 'running';
  // A security-minded tool never breaks a lock whose holder it cannot see: on a shared network file system
  // the holder may be backing up right now, and guessing wrong swaps a database under a live process. The
  // refusal says how to remove such a lock by hand once its holder is known to be gone.
  if (record.host !== os.hostname()) return 'elsewhere';
  const boot = bootId();
  if (record.bootId && boot && record.bootId !== boot) return 'dead';
  const ns = pidNamespace();
  if (record.pidNamespace && ns && record.pidNamespace !== ns) return 'elsewhere';
  try {
    process.kill(record.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
  }
  const stat = procStat(record.pid);
  if (!stat) return fs.existsSync('/proc/self/stat') ? 'dead' : 'running'; // no /proc: the pid is all we know
  if (record.startTicks && stat.startTicks !== record.startTicks) return 'dead'; // the pid was reused
  if (stat.state === 'Z' || stat.state === 'X') return 'dead';
  return stat.state === 'T' || stat.state === 't' ? 'stopped' : 'running';
}

/**
 * A process as a record or a file name can carry it: its pid and, where /proc tells them, its start time and the
 * boot it started in. A pid alone is reused by the system, so a pid-only record of a crashed process could look
 * alive for as long as some unrelated program holds that pid.
 */
export interface ProcessIdentity {
  pid: number;
  startTicks?: string | undefined;
  bootId?: string | undefined;
}

let mine: ProcessIdentity | undefined;

/** This process's identity (computed once: none of it changes while the process lives). */
export function ownIdentity(): ProcessIdentity {
  mine ??= { pid: process.pid, startTicks: procStat(process.pid)?.startTicks, bootId: bootId() };
  return mine;
}

/** Another process's identity as /proc shows it now (what a test compares a record with). */
export function identityOf(pid: number): ProcessIdentity {
  return { pid, startTicks: procStat(pid)?.startTicks, bootId: bootId() };
}

/**
 * Whether the process a record of this host names still runs. The safe side is "alive": a record is judged dead
 * only on proof (kill says ESRCH, the host rebooted since, or the pid now belongs to a process started at another
 * time). A record without a start time (written before records carried one) falls back to the pid alone; so does
 * a system without /proc (macOS, the BSDs): there a reused pid keeps a crashed process's leftovers until the pid
 * is free again, which wastes space but never removes what a live process still uses.
 */
export function isProcessAlive(id: ProcessIdentity): boolean {
  if (!Number.isInteger(id.pid) || id.pid <= 0) return false;
  try {
    process.kill(id.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false; // EPERM: it exists, another user's
  }
  const boot = bootId();
  if (id.bootId && boot && shortBootId(id.bootId) !== shortBootId(boot)) return false;
  if (!id.startTicks) return true;
  const stat = procStat(id.pid);
  // /proc/<pid> gone although kill found the pid: it exited meanwhile, or (hidepid) it is another user's
  // process, which a process of ours never is. No /proc at all: the pid is all there is to go by.
  if (!stat) return !fs.existsSync('/proc/self/stat');
  if (stat.startTicks !== id.startTicks) return false;
  return stat.state !== 'Z' && stat.state !== 'X';
}

/**
 * The identity as it goes into a file name: `<pid>`, or `<pid>-<startTicks>-<8 hex of the boot id>`; matched
 * by IDENTITY_IN_NAME, read back by identityFromName.
 */
export function identityTag(): string {
  const { pid, startTicks, bootId: boot } = ownIdentity();
  return startTicks && boot ? `${pid}-${startTicks}-${shortBootId(boot)}` : String(pid);
}

/** A regular expression source with three groups (pid, start ticks, boot): what identityTag writes. */
export const IDENTITY_IN_NAME = '(\\d+)(?:-(\\d+)-([0-9a-f]{8}))?';

export function identityFromName(pid: string | undefined, startTicks?: string, boot?: string): ProcessIdentity {
  return { pid: Number(pid), startTicks: startTicks || undefined, bootId: boot || undefined };
}

/** Enough of a boot id to tell two boots apart (a file name has no room for all 36 characters). */
function shortBootId(id: string): string {
  return id.replace(/-/g, '').slice(0, 8).toLowerCase();
}

/** State (field 3) and start time (field 22) of /proc/<pid>/stat; the name in field 2 may hold spaces and ')'. */
function procStat(pid: number): { state: string; startTicks: string } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const [state, startTicks] = [fields[0], fields[19]];
    return state && startTicks ? { state, startTicks } : undefined;
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function pidNamespace(): string | undefined {
  try {
    return fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}
