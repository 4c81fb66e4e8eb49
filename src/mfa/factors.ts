// Which second factors a user holds: what the mfa prompt may ask for, and whether it must.
import type { Db } from '../db/index.ts';

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
