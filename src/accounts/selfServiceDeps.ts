// What the self-service changes (sign-up, verification, reset, invitations, email change, locks)
// need besides a ServiceContext: the password rules, the issuer for links, the box that seals
// queued mail, and a way to wake the mail sender once their transaction has committed.
import { createHash } from 'node:crypto';
import type { Config } from '../config.ts';
import type { Db } from '../db/index.ts';
import type { SecretBox } from '../secrets/secretBox.ts';
import { enqueueMail, type MailMessage } from '../mail/index.ts';
import { InvalidInputError } from '../errors/index.ts';
import { checkPasswordPolicy, hashPassword } from './passwords/index.ts';
import { peekToken, type TokenPurpose, type TokenRefusal } from './oneTimeTokens.ts';

export interface AccountDeps {
  box: SecretBox;
  /** Links in emails start here. */
  issuer: string;
  bcryptCost: number;
  passwordMinLength: number;
  /** Called once a change that queued mail has committed (the sender picks it up at once). */
  mailQueued(): void;
}

/** How long each kind of link works. */
export const TOKEN_LIFETIME_SECONDS = {
  verify_email: 24 * 3600,
  password_reset: 3600,
  invitation: 7 * 24 * 3600,
  email_change: 3600,
  /** Carries an accepted invitation into the next sign-in in the same browser. */
  sign_in: 600,
} as const;

/** Emailed links land on these pages (routes in src/accountLinks). */
export const LINK_PATHS = {
  verify_email: '/account/verify-email',
  password_reset: '/account/reset-password',
  invitation: '/account/invitation',
  email_change: '/account/confirm-email-change',
} as const;

/** Where the stand-alone "forgot password" page is (linked from registration notices). */
export const FORGOT_PASSWORD_PATH = '/account/forgot-password';

export const linkTo = (deps: AccountDeps, page: keyof typeof LINK_PATHS, token: string) =>
  `${deps.issuer}${LINK_PATHS[page]}?token=${encodeURIComponent(token)}`;

/** Queues a mail in the caller's transaction: it is sent if, and only if, the change commits. */
export function queueMail(trx: Db, deps: AccountDeps, message: MailMessage): Promise<string> {
  return enqueueMail(trx, deps.box, message);
}

/** Refuses a password the policy does not accept, as a problem of the `password` field. */
export function assertAcceptablePassword(deps: AccountDeps, password: unknown, userInputs: string[] = []): string {
  const plain = typeof password === 'string' ? password : '';
  const verdict = checkPasswordPolicy(plain, { minLength: deps.passwordMinLength, userInputs });
  if (!verdict.ok) throw new InvalidInputError(verdict.reason, [{ path: 'password', message: verdict.reason }]);
  return plain;
}

/** The deps from the server's configuration; `mailQueued` wakes the sender (a no-op where none runs: it polls). */
export function accountDeps(config: Config, box: SecretBox, mailQueued: () => void = () => {}): AccountDeps {
  return { box, issuer: config.issuer, bcryptCost: config.bcryptCost, passwordMinLength: config.passwordMinLength, mailQueued };
}

/**
 * The hash of a new password chosen through a link (reset, invitation), or why not: the link is
 * checked, then the password against the policy (with the holder's address as context), so a
 * refused password leaves the link usable. The slow hashing happens before any transaction.
 */
export async function hashPasswordForLink(
  db: Db,
  deps: AccountDeps,
  purpose: TokenPurpose,
  token: unknown,
  password: unknown,
): Promise<{ ok: true; passwordHash: string } | { ok: false; reason: TokenRefusal }> {
  const link = await peekToken(db, purpose, token);
  if (!link.ok) return link;
  const holder = await db<{ email: string }>('users').where('id', link.token.user_id).first('email');
  const plain = assertAcceptablePassword(deps, password, holder ? [holder.email, holder.email.split('@')[0]] : []);
  return { ok: true, passwordHash: await hashPassword(plain, deps.bcryptCost) };
}

/**
 * A short digest of a stored password hash. A sign-in waiting on an email code holds the one of
 * the password it proved, and stops counting once the password changes (a reset by the owner).
 */
/**
 * What a pending sign-in binds to: the password, or for an account without one its having none
 * (setting a password, as a reset does, changes it).
 */
export const signInFingerprint = (user: { id: string; password_hash: string | null }) =>
  passwordFingerprint(user.password_hash ?? `no password:${user.id}`);

export function passwordFingerprint(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url').slice(0, 22);
}
