import type { App } from '../app.js';

/** What the REPL prints first: which nu-agent, which memory file (absolute), which model. */
export function bannerLines(app: App): string[] {
  const model = app.provider.available
    ? `Model: ${app.provider.description}`
    : `Model: ${app.provider.description}; set NUAGENT_LLM_URL and NUAGENT_LLM_MODEL to chat with one`;
  return [
    `nu-agent ${app.version}`,
    `Memory: ${app.store.path}`,
    model,
    'Type a message to chat, /help for commands, /exit or Ctrl-D to quit.',
  ];
}
