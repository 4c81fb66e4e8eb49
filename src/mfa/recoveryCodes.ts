// Recovery codes: ten single-use codes a user keeps on paper for when the authenticator app is
// lost. Shown once; stored only as keyed digests (HMAC-SHA-256 under a key derived from
// SECRET_KEY, over the user id and the code), so a database dump holds no usable code nor any
// way to check guesses offline, and a digest copied into another user's set opens nothing there. A new set replaces the old one in one transaction.
//
// Codes are 10 characters of Crockford's base32 (50 bits), shown as `xxxx-xxxx-xx` in lower
// case. Crockford's alphabet has no i, l, o or u, so what is typed is read the way it decodes:
// o as 0, i and l as 1, in either case, with or without dashes and spaces.
//
// A digest names the key id of the SECRET_KEY it was made with. A code still opens under
// SECRET_KEY_PREVIOUS, as one-time codes do (oneTimeTokens.ts); unlike sealed values a digest
// cannot be re-made by `secrets rotate`, so the codes made before a rotation stop working once
// SECRET_KEY_PREVIOUS is removed, and the prefix lets an operator count them first.
import { createHmac, randomInt, randomUUID } from 'node:crypto';
import { audit } from '../audit/index.ts';
import { afterCommit, commitChange, type ServiceContext } from '../changes/index.ts';
import type { Db } from '../db/index.ts';
import { NotFoundError } from '../errors/index.ts';
import { enqueueMail } from '../mail/index.ts';
import { type AccountDeps, FORGOT_PASSWORD_PATH } from '../accounts/selfServiceDeps.ts';
import type { SecretBox } from '../secrets/secretBox.ts';

/** What the recovery-code changes need: the box whose keys make digests, and for the email, the issuer and the sender's wake-up. */
export type RecoveryCodeDeps = Pick<AccountDeps, 'box' | 'issuer' | 'mailQueued'>;

export interface RecoveryCodesStatus {
  /** Codes of the current set not used yet. */
  remaining: number;
  /** When the current set was made; undefined when the user has none. */
  generatedAt?: Date;
}

export const RECOVERY_CODE_COUNT = 10;
const CROCKFORD_BASE32 = '0123456789abcdefghjkmnpqrstvwxyz';
const CODE_LENGTH = 10;
const GROUPS = /^(.{4})(.{4})(.{2})$/;
const LONGEST_TYPED_CODE = 64;
const KEY_PURPOSE = 'recovery codes';

const newRecoveryCode = () => Array.from({ length: CODE_LENGTH }, () => CROCKFORD_BASE32[randomInt(CROCKFORD_BASE32.length)]).join('');

/** As the user is shown it: `xxxx-xxxx-xx`. */
const shown = (plain: string) => plain.replace(GROUPS, '$1-$2-$3');

/** The code as it was generated, without dashes, from what was typed; undefined if it cannot be one. */
function typedCode(code: unknown): string | undefined {
  if (typeof code !== 'string' || code.length > LONGEST_TYPED_CODE) return undefined;
  const plain = code
    .toLowerCase()
    .replace(/[\s-]+/g, '')
    .replaceAll('o', '0')
    .replace(/[il]/g, '1');
  return plain.length === CODE_LENGTH && [...plain].every((c) => CROCKFORD_BASE32.includes(c)) ? plain : undefined;
}

const hmac = (key: Buffer, userId: string, plain: string) => createHmac('sha256', key).update(`${userId}:${plain}`).digest('base64url');

/** The stored digest of a new code: under the current SECRET_KEY. */
const digestOf = (box: SecretBox, userId: string, plain: string) =>
  `${box.currentKeyId}.${hmac(box.deriveKey(KEY_PURPOSE), userId, plain)}`;

/** The digests the typed code would have under each key of the ring (SECRET_KEY first). */
function candidateDigests(box: SecretBox, userId: string, plain: string): string[] {
  const keyIds = [box.currentKeyId, ...box.previousKeyIds];
  return box.derivedKeys(KEY_PURPOSE).map((key, i) => `${keyIds[i]}.${hmac(key, userId, plain)}`);
}

/**
 * Makes a new set of recovery codes, invalidating the old set, and returns them in clear: the
 * only time they are ever seen. NotFoundError for an unknown user.
 */
export async function generateRecoveryCodes(ctx: ServiceContext, deps: Pick<RecoveryCodeDeps, 'box'>, userId: string): Promise<string[]> {
  const plains = new Set<string>();
  while (plains.size < RECOVERY_CODE_COUNT) plains.add(newRecoveryCode());
  return commitChange(ctx, async (trx) => {
    // Locked: two regenerations at once would each delete only what is committed, and leave
    // both new sets valid.
    if (!(await trx('users').where('id', userId).forUpdate().first('id'))) throw new NotFoundError(`No user ${userId}`);
    await trx('recovery_codes').where('user_id', userId).delete();
    await trx('recovery_codes').insert(
      [...plains].map((plain) => ({ id: randomUUID(), user_id: userId, digest: digestOf(deps.box, userId, plain) })),
    );
    return {
      value: [...plains].map(shown),
      record: { type: 'user.recovery_codes_generated', subject: userId, userId, data: { count: RECOVERY_CODE_COUNT } },
    };
  });
}

const remainingCodes = async (db: Db, userId: string) =>
  Number((await db('recovery_codes').where('user_id', userId).whereNull('used_at').count({ n: '*' }).first())?.n ?? 0);

/**
 * Uses one of the user's recovery codes: true once per code, by one conditional update that
 * only one concurrent request can win. The owner is emailed, with how many codes remain and what
 * to do if it was not them. Malformed input is false without a look at the database.
 */
export async function useRecoveryCode(ctx: ServiceContext, deps: RecoveryCodeDeps, userId: string, code: unknown): Promise<boolean> {
  const plain = typedCode(code);
  if (!plain) return false;
  const used = await commitChange(ctx, async (trx) => {
    const won = await trx('recovery_codes')
      .where('user_id', userId)
      .whereIn('digest', candidateDigests(deps.box, userId, plain))
      .whereNull('used_at')
      .update({ used_at: trx.fn.now() });
    if (!won) return { value: false, record: null };
    const remaining = await remainingCodes(trx, userId);
    const owner = await trx<{ email: string }>('users').where('id', userId).first('email');
    if (owner) {
      const resetLink = `${deps.issuer}${FORGOT_PASSWORD_PATH}`;
      await enqueueMail(trx, deps.box, { to: owner.email, template: 'recovery_code_used', data: { remaining, resetLink } });
    }
    return { value: true, record: { type: 'user.recovery_code_used', subject: userId, userId, data: { remaining } } };
  });
  if (used) afterCommit(ctx.db, deps.mailQueued);
  // A refused code changes nothing anyone follows: an audit record without an event.
  else
    await audit(ctx.db, { type: 'mfa.recovery_code_failed', userId, ip: ctx.ip, requestId: ctx.requestId, details: { actor: ctx.actor } });
  return used;
}

export async function recoveryCodesStatus(db: Db, userId: string): Promise<RecoveryCodesStatus> {
  const row = (await db('recovery_codes')
    .where('user_id', userId)
    .select(db.raw('count(*) filter (where used_at is null) as remaining'), db.raw('min(created_at) as generated_at'))
    .first()) as { remaining: string | number; generated_at: Date | null } | undefined;
  return {
    remaining: Number(row?.remaining ?? 0),
    ...(row?.generated_at ? { generatedAt: new Date(row.generated_at) } : {}),
  };
}
