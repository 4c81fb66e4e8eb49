// Verification records: what a sign-in (or an enrolment) has proved so far, kept in the
// database beside the flow it belongs to, so that a method may take several requests.
//
// A method that needs a round trip (a passkey's challenge, later a federated redirect) starts a
// record that holds its challenge; the request that completes it takes the record with one
// conditional update, so of two tabs (or N parallel requests) exactly one gets it, and a used or
// expired challenge never works again. A prompt keeps what a method proved as a verified record
// when it must wait for more (the mfa prompt, when one factor does not reach the level needed),
// and reads the verified records of its flow — who, by which methods, with which `amr` — knowing
// no method's fields.
//
// A flow is what the records are bound to: `interaction:<uid>` for a sign-in, or
// `account:<session>` for an enrolment in the account area. Records die with their flow's
// lifetime and are swept.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.ts';

export interface VerificationRecord {
  id: string;
  flow: string;
  /** The sign-in method that wrote it: password · passkey · totp · recovery_code · email_code · … */
  method: string;
  /** Whose account it proved (or, while started, whose account it is for, when known). */
  userId: string | null;
  challenge: string | null;
  /** The method's own notes between requests; never a secret. */
  state: Record<string, unknown>;
  /** Authentication method references (RFC 8176) of what was proved. */
  amr: string[];
  createdAt: Date;
  expiresAt: Date;
  verifiedAt: Date | null;
}

export const interactionFlow = (uid: string) => `interaction:${uid}`;
export const accountFlow = (session: string) => `account:${session}`;
/**
 * What one authorization request carries from prompt to prompt (oidc-provider gives each prompt
 * its own interaction uid, but keeps their `cid`): an upstream identity waiting to be linked
 * once the whole sign-in is done. Not an interaction's flow, which the mfa prompt closes.
 */
export const identityLinkFlow = (cid: string) => `identity-link:${cid}`;

/** Long enough for a person to find their authenticator; a flow's records never outlive it. */
export const CHALLENGE_LIFETIME_SECONDS = 5 * 60;
/** An interaction lasts an hour (oidc-provider's Interaction TTL): so does what it proved. */
export const VERIFIED_LIFETIME_SECONDS = 3600;

interface Row {
  id: string;
  flow: string;
  method: string;
  user_id: string | null;
  challenge: string | null;
  state: Record<string, unknown>;
  amr: string[];
  created_at: Date;
  expires_at: Date;
  verified_at: Date | null;
}

const fromRow = (row: Row): VerificationRecord => ({
  id: row.id,
  flow: row.flow,
  method: row.method,
  userId: row.user_id,
  challenge: row.challenge,
  state: row.state ?? {},
  amr: row.amr ?? [],
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  verifiedAt: row.verified_at,
});

const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000);

export interface StartVerification {
  flow: string;
  method: string;
  challenge: string;
  userId?: string;
  state?: Record<string, unknown>;
  lifetimeSeconds?: number;
}

/**
 * Starts a verification that waits for its challenge to come back. Earlier open challenges of the
 * same method in the flow are closed: only the newest ceremony can complete.
 */
export async function startVerification(db: Db, input: StartVerification): Promise<VerificationRecord> {
  return db.transaction(async (trx) => {
    await trx('verification_records')
      .where({ flow: input.flow, method: input.method })
      .whereNull('verified_at')
      .whereNull('consumed_at')
      .update({ consumed_at: trx.fn.now() });
    const [row] = await trx('verification_records')
      .insert({
        id: randomUUID(),
        flow: input.flow,
        method: input.method,
        user_id: input.userId ?? null,
        challenge: input.challenge,
        state: JSON.stringify(input.state ?? {}),
        expires_at: inSeconds(input.lifetimeSeconds ?? CHALLENGE_LIFETIME_SECONDS),
      })
      .returning('*');
    return fromRow(row as Row);
  });
}

/**
 * The flow's open challenge for this method, used up: one conditional update, so whatever the
 * outcome of the ceremony that follows, the challenge never serves twice. Undefined when there
 * is none (never started, expired, or taken by another request). With `presented` (a value the
 * browser brings back, such as an upstream state), only the challenge equal to it is taken: a
 * wrong or forged value uses up nothing, so nobody can spoil someone else's ceremony by guessing.
 */
export async function takeChallenge(db: Db, flow: string, method: string, presented?: string): Promise<VerificationRecord | undefined> {
  const open = db('verification_records')
    .select('id')
    .where({ flow, method })
    .modify((query) => {
      if (presented !== undefined) query.where('challenge', presented);
    })
    .whereNull('verified_at')
    .whereNull('consumed_at')
    .whereNotNull('challenge')
    .where('expires_at', '>', db.fn.now())
    .orderBy('created_at', 'desc')
    .limit(1);
  const [row] = await db('verification_records')
    .whereIn('id', open)
    .whereNull('consumed_at')
    .update({ consumed_at: db.fn.now() })
    .returning('*');
  return row ? fromRow(row as Row) : undefined;
}

export interface Proof {
  flow: string;
  method: string;
  userId: string;
  amr: string[];
  state?: Record<string, unknown>;
}

/** Records what a method proved in this flow. */
export async function recordVerified(db: Db, proof: Proof): Promise<VerificationRecord> {
  const [row] = await db('verification_records')
    .insert({
      id: randomUUID(),
      flow: proof.flow,
      method: proof.method,
      user_id: proof.userId,
      state: JSON.stringify(proof.state ?? {}),
      amr: JSON.stringify(proof.amr),
      verified_at: db.fn.now(),
      expires_at: inSeconds(VERIFIED_LIFETIME_SECONDS),
    })
    .returning('*');
  return fromRow(row as Row);
}

/** What the flow has proved so far, oldest first. */
export async function verifiedRecords(db: Db, flow: string): Promise<VerificationRecord[]> {
  const rows = await db('verification_records')
    .where({ flow })
    .whereNotNull('verified_at')
    .where('expires_at', '>', db.fn.now())
    .orderBy('verified_at', 'asc')
    .orderBy('created_at', 'asc');
  return (rows as Row[]).map(fromRow);
}

/** Forgets a flow's records: it ended (signed in, aborted) or starts over as someone else. */
export async function closeFlow(db: Db, flow: string): Promise<void> {
  await db('verification_records').where({ flow }).delete();
}

export async function sweepVerificationRecords(db: Db): Promise<number> {
  return db('verification_records').where('expires_at', '<=', db.fn.now()).delete();
}
