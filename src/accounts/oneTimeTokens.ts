// One-time tokens: what an emailed link (or the 6-digit code beside it) proves. One table for
// every purpose; a token opens only for its own purpose, once, before it expires.
//
// Stored: the sha256 of the link's 256-bit token (a dump holds no usable link), and a keyed
// digest (HMAC under a key derived from SECRET_KEY) of the code: a million codes would be
// tried offline in a moment against a plain hash. Using a token is one conditional update that
// only one concurrent request can win. Five wrong codes use the token up.
import { createHmac, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/index.ts';
import { sha256, type SecretBox } from '../secrets/secretBox.ts';

export type TokenPurpose = 'verify_email' | 'password_reset' | 'invitation' | 'email_change' | 'sign_in';

export interface OneTimeToken {
  id: string;
  purpose: TokenPurpose;
  user_id: string;
  data: Record<string, unknown>;
  created_at: Date;
  expires_at: Date;
  consumed_at: Date | null;
  consumed_how: ConsumedHow | null;
}

/** How a token was used up. */
export type ConsumedHow = 'link' | 'code' | 'continued' | 'replaced' | 'revoked' | 'worn_out';

export interface IssuedToken {
  id: string;
  /** Goes into the link; never stored. */
  token: string;
  /** The 6 digits typed instead of following the link, when asked for. */
  code?: string;
  expiresAt: Date;
}

export const MAX_CODE_ATTEMPTS = 5;
const CODE_KEY_PURPOSE = 'one-time codes';

/** Why a link did not open, for the message the person sees. */
export type TokenRefusal = 'invalid' | 'expired' | 'used' | 'replaced' | 'revoked';

export type TokenOutcome = { ok: true; token: OneTimeToken } | { ok: false; reason: TokenRefusal };

const codeDigest = (key: Buffer, tokenId: string, code: string) => createHmac('sha256', key).update(`${tokenId}:${code}`).digest();

export interface IssueTokenInput {
  purpose: TokenPurpose;
  userId: string;
  ttlSeconds: number;
  data?: Record<string, unknown>;
  withCode?: boolean;
}

/**
 * Issues a token in the caller's transaction, using up the user's earlier live tokens of the
 * same purpose: only the newest link works (an old email in someone's inbox is worth nothing).
 */
export async function issueToken(trx: Db, box: SecretBox, input: IssueTokenInput): Promise<IssuedToken> {
  await trx('one_time_tokens')
    .where({ user_id: input.userId, purpose: input.purpose })
    .whereNull('consumed_at')
    .update({ consumed_at: trx.fn.now(), consumed_how: 'replaced' });
  const id = randomUUID();
  const token = randomBytes(32).toString('base64url');
  const code = input.withCode ? String(randomInt(0, 1_000_000)).padStart(6, '0') : undefined;
  const expiresAt = new Date(Date.now() + input.ttlSeconds * 1000);
  await trx('one_time_tokens').insert({
    id,
    digest: sha256(token),
    purpose: input.purpose,
    user_id: input.userId,
    code_digest: code ? codeDigest(box.deriveKey(CODE_KEY_PURPOSE), id, code).toString('base64url') : null,
    data: JSON.stringify(input.data ?? {}),
    expires_at: expiresAt,
  });
  return { id, token, code, expiresAt };
}

const looksLikeToken = (token: unknown): token is string => typeof token === 'string' && /^[A-Za-z0-9_-]{43}$/.test(token);

/** The live token behind a link, without using it (to show the form the link leads to). */
export async function peekToken(db: Db, purpose: TokenPurpose, token: unknown): Promise<TokenOutcome> {
  if (!looksLikeToken(token)) return { ok: false, reason: 'invalid' };
  const row = await db<OneTimeToken>('one_time_tokens').where('digest', sha256(token)).first();
  return judge(row, purpose);
}

function judge(row: OneTimeToken | undefined, purpose: TokenPurpose): TokenOutcome {
  // A token of another purpose is as good as no token: it says nothing about this one.
  if (!row || row.purpose !== purpose) return { ok: false, reason: 'invalid' };
  if (row.consumed_at)
    return { ok: false, reason: row.consumed_how === 'replaced' || row.consumed_how === 'revoked' ? row.consumed_how : 'used' };
  if (new Date(row.expires_at).getTime() <= Date.now()) return { ok: false, reason: 'expired' };
  return { ok: true, token: row };
}

/** Uses the token behind a link; of N concurrent requests with the same link, one wins. */
export async function consumeToken(trx: Db, purpose: TokenPurpose, token: unknown): Promise<TokenOutcome> {
  if (!looksLikeToken(token)) return { ok: false, reason: 'invalid' };
  const digest = sha256(token);
  const [won] = (await trx('one_time_tokens')
    .where({ digest, purpose })
    .whereNull('consumed_at')
    .where('expires_at', '>', trx.fn.now())
    .update({ consumed_at: trx.fn.now(), consumed_how: 'link' })
    .returning('*')) as OneTimeToken[];
  if (won) return { ok: true, token: won };
  // Lost: say why (used, expired, or not a token of this purpose at all).
  const refused = judge(await trx<OneTimeToken>('one_time_tokens').where('digest', digest).first(), purpose);
  return refused.ok ? { ok: false, reason: 'used' } : refused;
}

/**
 * Uses the user's live token of `purpose` whose code this is. A wrong code counts against every
 * live token of the user's for that purpose; the fifth uses them up, so guessing one of a
 * million codes gets five tries per email sent (and sending is rate limited).
 */
export async function consumeCode(
  trx: Db,
  box: SecretBox,
  purpose: TokenPurpose,
  userId: string,
  code: unknown,
  /** Only tokens issued for this sign-in (their data's `interaction`): a code finishes no other. */
  interactionUid?: string,
): Promise<OneTimeToken | undefined> {
  const live = () => {
    const q = trx<OneTimeToken & { code_digest: string | null; code_attempts: number }>('one_time_tokens')
      .where({ user_id: userId, purpose })
      .whereNotNull('code_digest')
      .whereNull('consumed_at')
      .where('expires_at', '>', trx.fn.now());
    return interactionUid ? q.whereRaw("data->>'interaction' = ?", [interactionUid]) : q;
  };
  const candidates = await live().orderBy('created_at', 'desc').limit(3);
  const typed = typeof code === 'string' ? code.replace(/\s+/g, '') : '';
  const keys = box.derivedKeys(CODE_KEY_PURPOSE);
  const match = /^\d{6}$/.test(typed)
    ? candidates.find((row) => {
        const stored = Buffer.from(row.code_digest as string, 'base64url');
        return keys.some((key) => timingSafeEqual(codeDigest(key, row.id, typed), stored));
      })
    : undefined;
  if (match) {
    const [won] = (await live()
      .where('id', match.id)
      .update({ consumed_at: trx.fn.now(), consumed_how: 'code' })
      .returning('*')) as OneTimeToken[];
    return won;
  }
  await live().update({
    code_attempts: trx.raw('code_attempts + 1'),
    consumed_at: trx.raw('case when code_attempts + 1 >= ? then now() else null end', [MAX_CODE_ATTEMPTS]),
    consumed_how: trx.raw("case when code_attempts + 1 >= ? then 'worn_out' else null end", [MAX_CODE_ATTEMPTS]),
  });
  return undefined;
}

export const ALL_PURPOSES: TokenPurpose[] = ['verify_email', 'password_reset', 'invitation', 'email_change', 'sign_in'];

/**
 * Uses up every live token of the user's for these purposes: an invitation withdrawn, or all of
 * them when what they were sent for changed (a new password, a new address, a suspension).
 */
export function revokeTokens(trx: Db, userId: string, purposes: TokenPurpose[] = ALL_PURPOSES): Promise<number> {
  return trx('one_time_tokens')
    .where('user_id', userId)
    .whereIn('purpose', purposes)
    .whereNull('consumed_at')
    .update({ consumed_at: trx.fn.now(), consumed_how: 'revoked' });
}

/**
 * Lets a followed verification link finish the sign-in it was sent for, once: of the user's
 * tokens for that sign-in, one used through its link is marked continued. False when none was
 * (not followed yet, used up another way, or already continued).
 */
export async function continueAfterLink(trx: Db, userId: string, interactionUid: string): Promise<boolean> {
  const claimed = await trx('one_time_tokens')
    .where({ user_id: userId, purpose: 'verify_email', consumed_how: 'link' })
    .whereRaw("data->>'interaction' = ?", [interactionUid])
    .update({ consumed_how: 'continued' });
  return claimed > 0;
}

/** When the user last had a token of this purpose issued (for a re-send cool-down). */
export async function lastIssuedAt(db: Db, userId: string, purpose: TokenPurpose): Promise<Date | undefined> {
  const row = await db('one_time_tokens').where({ user_id: userId, purpose }).max('created_at as at').first();
  return row?.at ? new Date(row.at) : undefined;
}

/** Deletes tokens a day after they expired or were used (kept that long to say "already used"). */
export function sweepOneTimeTokens(db: Db): Promise<number> {
  return db('one_time_tokens')
    .where('expires_at', '<', db.raw("now() - interval '1 day'"))
    .orWhere('consumed_at', '<', db.raw("now() - interval '1 day'"))
    .delete();
}
