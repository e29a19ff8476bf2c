import os from 'node:os';
import path from 'node:path';

// Where nu-agent keeps its data. NUAGENT_HOME moves the whole directory; NUAGENT_DATABASE or --database points
// at another database file. Paths are resolved once, at start-up, and the
// resolved database path is what every later reopen uses (never re-derived from the environment: it may have changed since).

export interface DataPaths {
  home: string;
  database: string;
  historyFile: string;
  controlSocket: string;
  backupLock: string;
  defaultBackupDir: string;
}

export function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/')) return path.join(os.homedir(), p.slice(2));
  return p;
}

export function resolveDataPaths(env: NodeJS.ProcessEnv = process.env, databaseFlag?: string): DataPaths {
  const home = path.resolve(expandHome(env.NUAGENT_HOME || path.join(os.homedir(), '.nuagent')));
  const chosen = databaseFlag || env.NUAGENT_DATABASE;
  const database = chosen ? path.resolve(expandHome(chosen)) : path.join(home, 'memory.db');
  return {
    home,
    database,
    historyFile: path.join(home, 'command_history'),
    // Unix sockets have a short path limit (~107 bytes); the data directory is usually short enough, and the
    // control-socket code falls back to the OS temp dir when it is not.
    controlSocket: path.join(home, 'control.sock'),
    backupLock: database + '.backup-lock',
    defaultBackupDir: path.join(home, 'backups'),
  };
}
