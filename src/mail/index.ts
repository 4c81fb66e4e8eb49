// Email: a mail is queued in the transaction of the change that calls for it (enqueueMail) and
// sent after the commit by the mailer, with retries, through SMTP_URL or into DATA_DIR/outbox.
//
//   await commitChange(ctx, async (trx) => {
//     …
//     await enqueueMail(trx, deps.box, { to: user.email, template: 'verify_email', data: { link, code, expiresMinutes: 15 } });
//   });
//   deps.mailer.nudge(); // after the commit: send it now rather than at the next poll
export { enqueueMail, type MailMessage } from './queue.ts';
export { createMailer, type Mailer, type MailerOptions } from './mailer.ts';
export { MAIL_TEMPLATES, MAIL_TEMPLATE_NAMES, MailDataError, renderMail, type MailTemplate, type RenderedMail } from './templates.ts';
export { mailFeature } from './feature.ts';
