import type { Command } from '../command.js';
import { messages } from '../../errors.js';
import { closeConversation, createConversation } from '../../store/conversations.js';

export const newCommand: Command = {
  name: 'new',
  help: ['/new', 'Start a new conversation; the model no longer sees the earlier messages.'],
  async run(args, app) {
    if (args.length > 0) throw messages.usage('/new');
    const previous = app.session.conversationId;
    if (previous !== undefined) await closeConversation(app.store, previous);
    app.session.conversationId = await createConversation(app.store);
    app.out.line(`Started conversation ${app.session.conversationId}.`);
  },
};
