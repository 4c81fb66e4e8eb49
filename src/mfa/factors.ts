// Which second factors a user holds: what the mfa prompt may ask for, and whether it must.
import type { Db } from '../db/index.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import { NotFoundError } from '../errors/index.ts';

export interface SecondFactors {
  /** A confirmed authenticator app. */
  totp: boolean;
  passkeys: number;
  /** Recovery codes not used yet. */
  recoveryCodes: number;
}

export async function secondFactorsOf(db: Db, userId: string): Promise<SecondFactors> {
  const [row] = (await db.select(
    db.raw('exists (select 1 from totp_factors where user_id = ? and confirmed_at is not null) as totp', [userId]),
    db.raw('(select count(*) from passkeys where user_id = ?) as passkeys', [userId]),
    db.raw('(select count(*) from recovery_codes where user_id = ? and used_at is null) as recovery_codes', [userId]),
  )) as { totp: boolean; passkeys: string | number; recovery_codes: string | number }[];
  return { totp: Boolean(row?.totp), passkeys: Number(row?.passkeys ?? 0), recoveryCodes: Number(row?.recovery_codes ?? 0) };
}

/** Whether the user has a factor besides what they sign in with first (recovery codes back one up). */
export const hasSecondFactor = (factors: SecondFactors) => factors.totp || factors.passkeys > 0;

export interface FactorSummary {
  totp: boolean;
  passkeys: number;
  recovery_codes_remaining: number;
  known_devices: number;
}

/** What an operator sees of a user's factors (never a secret, a code or a key). */
export async function factorSummary(db: Db, userId: string): Promise<FactorSummary> {
  const factors = await secondFactorsOf(db, userId);
  const [devices] = (await db('known_devices').where('user_id', userId).count({ n: '*' })) as { n: string | number }[];
  return {
    totp: factors.totp,
    passkeys: factors.passkeys,
    recovery_codes_remaining: factors.recoveryCodes,
    known_devices: Number(devices?.n ?? 0),
  };
}

const FACTOR_TABLES = ['passkeys', 'totp_factors', 'recovery_codes', 'known_devices'] as const;

/**
 * Removes every second factor of a user (passkeys, authenticator app, recovery codes) and forgets
 * their browsers: for an owner who lost them, after the operator checked who they are. Their next
 * sign-in is with the password (or a reset link) alone. Returns what was removed.
 */
export async function resetSecondFactors(ctx: ServiceContext, userId: string): Promise<Record<(typeof FACTOR_TABLES)[number], number>> {
  return commitChange(ctx, async (trx) => {
    if (!(await trx('users').where('id', userId).first('id'))) throw new NotFoundError(`No user ${userId}`);
    const removed = Object.fromEntries(
      await Promise.all(FACTOR_TABLES.map(async (table) => [table, await trx(table).where('user_id', userId).delete()] as const)),
    ) as Record<(typeof FACTOR_TABLES)[number], number>;
    return { value: removed, record: { type: 'user.factors_reset', subject: userId, userId, data: { removed } } };
  });
}
