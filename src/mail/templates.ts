// The mails Gatehouse sends: one line per template with its subject and the data it needs, and
// the rendering of views/emails/<name>.{html,text}.ejs inside the one layout of each kind.
// The data is checked when the mail is queued, inside the caller's transaction: a caller that
// forgets a link fails there and then, instead of the mail failing later where nobody looks.
// Links are always given by the caller; this module never makes one up.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import ejs from 'ejs';
import { z } from 'zod';

const link = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const sixDigits = z.string().regex(/^\d{6}$/, 'must be 6 digits');
const count = z.number().int().positive();
const text = z.string().min(1).max(200);

export const MAIL_TEMPLATES = {
  verify_email: {
    subject: 'Verify your email address',
    data: z.strictObject({ link, code: sixDigits, expiresMinutes: count }),
  },
  registration_attempt: {
    subject: 'Someone tried to create an account with your email address',
    data: z.strictObject({ signInLink: link.optional(), resetLink: link.optional() }),
  },
  password_reset: {
    subject: 'Reset your password',
    data: z.strictObject({ link, expiresMinutes: count }),
  },
  password_changed: {
    subject: 'Your password was changed',
    data: z.strictObject({ resetLink: link.optional() }),
  },
  invitation: {
    subject: 'You are invited to create an account',
    data: z.strictObject({ link, expiresDays: count, name: text.optional(), clientName: text.optional() }),
  },
  email_change_confirm: {
    subject: 'Confirm your new email address',
    data: z.strictObject({ link, code: sixDigits.optional(), expiresMinutes: count, newEmail: z.email() }),
  },
  email_change_notice: {
    subject: 'The email address of your account is changing',
    data: z.strictObject({ newEmail: z.email() }),
  },
  account_locked: {
    subject: 'Your account is locked for a while',
    data: z.strictObject({ resetLink: link, unlockMinutes: count }),
  },
  recovery_code_used: {
    subject: 'A recovery code was used to sign in to your account',
    data: z.strictObject({ remaining: z.number().int().nonnegative(), resetLink: link }),
  },
} as const;

export type MailTemplate = keyof typeof MAIL_TEMPLATES;

export const MAIL_TEMPLATE_NAMES = Object.keys(MAIL_TEMPLATES) as MailTemplate[];

export const PRODUCT_NAME = 'Gatehouse';

/** The mail's data is not what its template needs: a mistake of the caller, named by field. */
export class MailDataError extends Error {
  constructor(template: string, problems: string[]) {
    super(`Mail ${template}: ${problems.join('; ')}`);
    this.name = 'MailDataError';
  }
}

function isTemplate(name: string): name is MailTemplate {
  return Object.hasOwn(MAIL_TEMPLATES, name);
}

/** The template's data, checked; throws MailDataError naming the fields (never their values). */
export function checkMailData(template: string, data: unknown): Record<string, unknown> {
  if (!isTemplate(template)) throw new MailDataError(template, ['no such template']);
  const parsed = MAIL_TEMPLATES[template].data.safeParse(data);
  if (!parsed.success)
    throw new MailDataError(
      template,
      parsed.error.issues.map((i) => `${i.path.join('.') || 'data'} ${i.message}`),
    );
  return parsed.data;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

const EMAILS_DIR = fileURLToPath(new URL('../../views/emails/', import.meta.url));

// HTML escapes every <%= %> (ejs's default); plain text has nothing to escape, so the same tag
// writes the value as it is there (a link's & must stay &).
const HTML = { cache: true, root: EMAILS_DIR };
const TEXT = { cache: true, root: EMAILS_DIR, escape: (value: unknown) => String(value ?? '') };

/** The subject, text and HTML of a mail; the data is checked first. */
export async function renderMail(template: string, data: unknown): Promise<RenderedMail> {
  const checked = checkMailData(template, data);
  const subject = MAIL_TEMPLATES[template as MailTemplate].subject;
  const locals = { ...checked, subject, productName: PRODUCT_NAME };
  const file = (kind: 'html' | 'text') => join(EMAILS_DIR, `${template}.${kind}.ejs`);
  const layout = (kind: 'html' | 'text') => join(EMAILS_DIR, `layout.${kind}.ejs`);
  const htmlBody = await ejs.renderFile(file('html'), locals, HTML);
  const textBody = await ejs.renderFile(file('text'), locals, TEXT);
  return {
    subject,
    html: await ejs.renderFile(layout('html'), { ...locals, body: htmlBody }, HTML),
    text: await ejs.renderFile(layout('text'), { ...locals, body: textBody.trim() }, TEXT),
  };
}
