import type { Command } from '../command.js';
import { messages } from '../../errors.js';
import type { WorkerStatus } from '../../../workers/shared/protocol.js';
import { oneLine } from '../format.js';

const USAGE = '/worker [status] | /worker <name> [start|stop|pause|resume]';
const ACTIONS = ['start', 'stop', 'pause', 'resume'] as const;
type Action = (typeof ACTIONS)[number];

export const workerCommand: Command = {
  name: 'worker',
  help: [
    USAGE,
    'Show or control the background workers: conversation-summarizer, exchange-summarizer, embeddings.',
    'Status shows each one running, idle, paused, stopped or crashed, with items done, failed and the last error.',
    'A worker stopped here stays stopped across backups; a paused one stays paused until /worker <name> resume.',
  ],
  async run(args, app) {
    const admin = app.workerAdmin;
    if (args.length === 0 || (args.length === 1 && args[0] === 'status')) {
      for (const line of statusLines(admin.status())) app.out.line(line);
      const embedder = admin.embedder;
      app.out.line(
        `Embeddings: ${embedder.model}${embedder.endpoint ? ` at ${embedder.endpoint}` : ' (local, offline)'}`,
      );
      return;
    }
    const [name, action = 'status'] = args;
    if (args.length > 2 || !name) throw messages.usage(USAGE);
    if (!admin.names.includes(name as WorkerStatus['name'])) throw messages.unknownWorker(name, [...admin.names]);
    if (action !== 'status' && !ACTIONS.includes(action as Action)) throw messages.usage(USAGE);
    if (action === 'start') admin.start(name);
    if (action === 'pause') admin.pause(name);
    if (action === 'resume') admin.resume(name);
    if (action === 'stop') await admin.stop(name);
    for (const line of statusLines(admin.status().filter((s) => s.name === name))) app.out.line(line);
  },
};

export function statusLines(statuses: WorkerStatus[], now = Date.now()): string[] {
  const width = Math.max(...statuses.map((s) => s.name.length));
  return statuses.map((s) => {
    const facts = [`done ${s.done}`, `failed ${s.failed}`];
    if (s.crashes > 0) facts.push(`crashes ${s.crashes}`);
    if (s.restartAt !== undefined) facts.push(`restart in ${Math.max(0, Math.ceil((s.restartAt - now) / 1000))} s`);
    if (s.lastError) facts.push(`last error: ${oneLine(s.lastError, 160)}`);
    return `${s.name.padEnd(width)}  ${s.state.padEnd(8)}  ${facts.join(' · ')}`;
  });
}
