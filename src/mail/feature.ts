// The mail feature: starts the server's mailer (created by server.ts and handed to every feature
// as `deps.mailer`, so a feature that queues mail can nudge it) and sweeps finished mail.
import type { Feature } from '../feature.ts';
import { sweepFinishedMail } from './queue.ts';

export const mailFeature: Feature = {
  name: 'mail',
  async start({ mailer }) {
    mailer.start();
  },
  sweepers: [{ name: 'mail', sweep: (database) => sweepFinishedMail(database.db) }],
};
