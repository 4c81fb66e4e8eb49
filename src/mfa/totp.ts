// The authenticator app a user holds as a second factor: TOTP (RFC 6238) with SHA-1, 6 digits
// and 30-second steps, the only parameters every authenticator app supports. One per user. An
// enrolment leaves a pending row with a fresh seed, which the first right code confirms; only a
// confirmed one proves a sign-in. The seed is sealed with SECRET_KEY, bound to its row.
//
// A code is good in its own step and the steps either side (phone clocks drift, people type
// slowly), and once: accepting it writes its step to last_used_step with one conditional update
// that only one of N concurrent requests with the same code can win, and from then on that step
// and every earlier one is refused (RFC 6238 §5.2), so a code seen over a shoulder is worthless.
// Guessing is bounded by the callers' rate limits (src/abuse), not here.
import { generateSecret, generateURI, verify } from 'otplib';
import { audit } from '../audit/index.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import type { Db } from '../db/index.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors/index.ts';
import type { AccountDeps } from '../accounts/selfServiceDeps.ts';
import type { SealedColumn } from '../secrets/sealedColumns.ts';
import type { SealContext } from '../secrets/secretBox.ts';
import { qrCodeDataUrl } from './qrCode.ts';

/** What the TOTP changes need besides a ServiceContext: the box that seals the seed. */
export type TotpDeps = Pick<AccountDeps, 'box'>;

/** How the authenticator app names the entry: the account, and the service it is for. */
export interface TotpLabels {
  /** The user's address, as the app lists it. */
  accountName: string;
  /** The product name the app shows beside it (not the issuer URL). */
  issuer: string;
}

/** What the user needs to add the authenticator: shown once, while the enrolment is pending. */
export interface TotpEnrolment {
  /** Base32, for typing into an app that cannot scan. */
  secret: string;
  otpauthUri: string;
  /** The URI as a QR code: a `data:image/svg+xml` URL for an <img src>. */
  qrDataUrl: string;
}

export interface TotpStatus {
  /** A confirmed authenticator: it proves sign-ins. */
  enrolled: boolean;
  confirmedAt?: Date;
  /** An enrolment started and not yet confirmed. */
  pending: boolean;
}

interface TotpFactorRow {
  user_id: string;
  secret: string;
  created_at: Date;
  confirmed_at: Date | null;
  last_used_step: string | number | null;
}

const PERIOD_SECONDS = 30;
/** Steps accepted either side of the current one. */
const DRIFT_STEPS = 1;
const LONGEST_TYPED_CODE = 32;
const LONGEST_LABEL = 200;

export const totpSecretContext = (userId: string): SealContext => ({ table: 'totp_factors', rowId: userId, purpose: 'secret' });

/** Authenticator seeds, for `secrets rotate` and the start-up check. */
export const SEALED_TOTP_SECRETS: SealedColumn = {
  table: 'totp_factors',
  idColumn: 'user_id',
  column: 'secret',
  context: (row) => totpSecretContext(row.user_id),
};

/** The 6 digits typed (spaces between groups allowed), or undefined for anything else. */
function typedCode(code: unknown): string | undefined {
  if (typeof code !== 'string' || code.length > LONGEST_TYPED_CODE) return undefined;
  const digits = code.replace(/\s+/g, '');
  return /^\d{6}$/.test(digits) ? digits : undefined;
}

/** The step in which the code is right, within the drift allowed around now. */
async function matchingStep(secret: string, code: string): Promise<{ step: number; drift: number } | undefined> {
  const result = await verify({ secret, token: code, period: PERIOD_SECONDS, epochTolerance: PERIOD_SECONDS * DRIFT_STEPS });
  // The result type also covers HOTP, whose matches have no time step.
  return result.valid && 'timeStep' in result ? { step: result.timeStep, drift: result.delta } : undefined;
}

const lastUsedStep = (row: TotpFactorRow) => (row.last_used_step === null ? undefined : Number(row.last_used_step));

function checkedLabels(labels: TotpLabels): TotpLabels {
  const problems = (['accountName', 'issuer'] as const)
    .filter((field) => typeof labels[field] !== 'string' || !labels[field].trim() || labels[field].length > LONGEST_LABEL)
    .map((path) => ({ path, message: `must be 1 to ${LONGEST_LABEL} characters` }));
  if (problems.length) throw new InvalidInputError('Invalid authenticator labels', problems);
  return { accountName: labels.accountName.trim(), issuer: labels.issuer.trim() };
}

async function enrolmentOf(secret: string, labels: TotpLabels): Promise<TotpEnrolment> {
  const { accountName, issuer } = checkedLabels(labels);
  const otpauthUri = generateURI({ issuer, label: accountName, secret });
  return { secret, otpauthUri, qrDataUrl: await qrCodeDataUrl(otpauthUri) };
}

/**
 * Starts adding an authenticator app: a fresh seed, replacing any pending one (the QR code
 * scanned before stops working). Refused with a ConflictError while the user has a confirmed
 * one: it must be removed first, so a stolen session cannot quietly swap the owner's app.
 */
export async function startTotpEnrolment(ctx: ServiceContext, deps: TotpDeps, userId: string, labels: TotpLabels): Promise<TotpEnrolment> {
  checkedLabels(labels);
  const secret = generateSecret(); // 160 bits, as RFC 4226 recommends
  const sealed = deps.box.seal(secret, totpSecretContext(userId));
  await commitChange(ctx, async (trx) => {
    if (!(await trx('users').where('id', userId).first('id'))) throw new NotFoundError(`No user ${userId}`);
    // One statement, so a confirmation racing it either lands first (and this is refused) or
    // finds the new seed, never a confirmed row with a seed nobody scanned.
    const written = await trx('totp_factors')
      .insert({ user_id: userId, secret: sealed })
      .onConflict('user_id')
      .merge({ secret: sealed, created_at: trx.fn.now(), last_used_step: null })
      .whereNull('totp_factors.confirmed_at')
      .returning('user_id');
    if (!written.length) throw new ConflictError('The user already has an authenticator app: remove it before adding another');
    return { value: undefined, record: { type: 'user.totp_enrolment_started', subject: userId, userId, data: {} } };
  });
  return enrolmentOf(secret, labels);
}

/** The pending enrolment again (to show the same QR code after a mistyped confirmation). */
export async function pendingTotpEnrolment(db: Db, deps: TotpDeps, userId: string, labels: TotpLabels): Promise<TotpEnrolment> {
  const row = await db<TotpFactorRow>('totp_factors').where('user_id', userId).whereNull('confirmed_at').first();
  if (!row) throw new NotFoundError(`User ${userId} is not adding an authenticator app`);
  return enrolmentOf(deps.box.open(row.secret, totpSecretContext(userId)), labels);
}

/**
 * Confirms the pending authenticator with a code from it; false when the code is wrong. The
 * code's step counts as used. NotFoundError when nothing is pending, ConflictError when it is
 * already confirmed (a form sent twice).
 */
export async function confirmTotp(ctx: ServiceContext, deps: TotpDeps, userId: string, code: unknown): Promise<boolean> {
  const typed = typedCode(code);
  if (!typed) return false;
  return commitChange(ctx, async (trx) => {
    // Locked: a new enrolment cannot replace the seed between checking the code and confirming.
    const row = await trx<TotpFactorRow>('totp_factors').where('user_id', userId).forUpdate().first();
    if (!row) throw new NotFoundError(`User ${userId} is not adding an authenticator app`);
    if (row.confirmed_at) throw new ConflictError('The authenticator app is already confirmed');
    const match = await matchingStep(deps.box.open(row.secret, totpSecretContext(userId)), typed);
    if (!match) return { value: false, record: null };
    await trx('totp_factors').where('user_id', userId).update({ confirmed_at: trx.fn.now(), last_used_step: match.step });
    return { value: true, record: { type: 'user.totp_enrolled', subject: userId, userId, data: {} } };
  });
}

type TotpRefusal = 'not_enrolled' | 'wrong_code' | 'reused';

/** A refused code changes nothing anyone follows, so it is an audit record without an event. */
function auditRefusal(ctx: ServiceContext, userId: string, reason: TotpRefusal): Promise<void> {
  return audit(ctx.db, {
    type: 'mfa.totp_failed',
    userId,
    ip: ctx.ip,
    requestId: ctx.requestId,
    details: { reason, actor: ctx.actor },
  });
}

/**
 * Checks a code of the user's confirmed authenticator: true once per code. Malformed input is
 * false without a look at the database; a right code is accepted by one conditional update.
 */
export async function verifyTotp(ctx: ServiceContext, deps: TotpDeps, userId: string, code: unknown): Promise<boolean> {
  const typed = typedCode(code);
  if (!typed) return false;
  const row = await ctx.db<TotpFactorRow>('totp_factors').where('user_id', userId).whereNotNull('confirmed_at').first();
  const refused = async (reason: TotpRefusal) => {
    await auditRefusal(ctx, userId, reason);
    return false;
  };
  if (!row) return refused('not_enrolled');
  const match = await matchingStep(deps.box.open(row.secret, totpSecretContext(userId)), typed);
  if (!match) return refused('wrong_code');
  const lastUsed = lastUsedStep(row);
  if (lastUsed !== undefined && match.step <= lastUsed) return refused('reused');
  const accepted = await commitChange(ctx, async (trx) => {
    // Bound to the seed the code was checked against: an authenticator replaced meanwhile is not another's to mark.
    const won = await trx('totp_factors')
      .where({ user_id: userId, secret: row.secret })
      .whereNotNull('confirmed_at')
      .andWhere((q) => q.whereNull('last_used_step').orWhere('last_used_step', '<', match.step))
      .update({ last_used_step: match.step });
    if (!won) return { value: false, record: null };
    return { value: true, record: { type: 'mfa.totp_verified', subject: userId, userId, data: { drift: match.drift } } };
  });
  if (!accepted) return refused('reused'); // a parallel request with the same code won
  return true;
}

/** Removes the user's authenticator app, confirmed or pending; NotFoundError when there is none. */
export async function removeTotp(ctx: ServiceContext, userId: string): Promise<void> {
  await commitChange(ctx, async (trx) => {
    const [removed] = (await trx('totp_factors').where('user_id', userId).delete().returning('confirmed_at')) as Pick<
      TotpFactorRow,
      'confirmed_at'
    >[];
    if (!removed) throw new NotFoundError(`User ${userId} has no authenticator app`);
    return {
      value: undefined,
      record: { type: 'user.totp_removed', subject: userId, userId, data: { confirmed: removed.confirmed_at !== null } },
    };
  });
}

export async function totpStatus(db: Db, userId: string): Promise<TotpStatus> {
  const row = await db<TotpFactorRow>('totp_factors').where('user_id', userId).first('confirmed_at');
  if (!row) return { enrolled: false, pending: false };
  if (!row.confirmed_at) return { enrolled: false, pending: true };
  return { enrolled: true, confirmedAt: new Date(row.confirmed_at), pending: false };
}
