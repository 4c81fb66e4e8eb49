// Sign-up: someone creates their own account with an email and a password, or an email and a
// passkey (no password). Whether the address already has an account must not show: both cases
// do the same work (the password is hashed, the passkey verified, either way), end on the same
// "check your email" screen, and each sends one email — a verification code and link to a new
// account, a "someone tried to register" notice to an existing owner. Nothing is added to an
// existing account: its owner's passkeys and password stay as they were.
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { afterCommit, commitChange, type ServiceContext } from '../changes/index.ts';
import { InvalidInputError, fieldProblems } from '../errors/index.ts';
import { emailSchema, profileSchema, type User } from './users.ts';
import { hashPassword } from './passwords/index.ts';
import { queueVerification } from './emailVerification.ts';
import { type AccountDeps, FORGOT_PASSWORD_PATH, queueMail, assertAcceptablePassword, signInFingerprint } from './selfServiceDeps.ts';
import { insertPasskey, type NewPasskey } from '../mfa/passkeys.ts';
import { markConfirmed } from '../profile/service.ts';
import type { Db } from '../db/index.ts';

export const signupSchema = z
  .object({
    email: emailSchema,
    password: z.string(),
    profile: profileSchema.default({}),
  })
  .strict();
export type Signup = z.input<typeof signupSchema>;

export interface SignupOrigin {
  /** The sign-in (interaction) the person registered from: their code finishes it. */
  interactionUid: string;
  clientId: string;
}

/**
 * Checks every field at once, so the screen can say what to fix next to each. The profile values
 * were checked against the profile schema by the form that read them; what it found wrong
 * (`profileProblems`, by attribute) is reported with the rest.
 */
function parseSignup(deps: AccountDeps, input: unknown, profileProblems: Record<string, string>) {
  const parsed = signupSchema.safeParse(input);
  const problems = parsed.success ? [] : fieldProblems(parsed.error);
  problems.push(...Object.entries(profileProblems).map(([path, message]) => ({ path, message })));
  const email = parsed.success ? parsed.data.email : '';
  try {
    assertAcceptablePassword(deps, (input as { password?: unknown } | undefined)?.password, [email, email.split('@')[0]].filter(Boolean));
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    problems.push(...error.fields);
  }
  if (!parsed.success || problems.length) throw new InvalidInputError('Check the highlighted fields', problems);
  return parsed.data;
}

/**
 * What the sign-up screen keeps (sealed, in the browser) to let the code finish the sign-in: the
 * new account and the password it was made with. For an address that already had an account it
 * is a decoy of the same shape that matches nobody, so the two cannot be told apart.
 */
export interface SignupReceipt {
  /** The address as stored (or, for the decoy, as typed). */
  email: string;
  userId: string;
  passwordFingerprint: string;
}

interface NewAccount {
  id: string;
  email: string;
  passwordHash: string | null;
  profile: Record<string, unknown>;
}

const decoyReceipt = (email: string): SignupReceipt => ({
  email,
  userId: randomUUID(),
  passwordFingerprint: randomBytes(16).toString('base64url').slice(0, 22),
});

/**
 * Creates the account in the caller's transaction, or, when the address has one already, tells
 * its owner someone tried and returns undefined. The unique index on lower(email) decides,
 * whichever request got there first.
 */
async function createOrNotify(trx: Db, deps: AccountDeps, account: NewAccount): Promise<{ user?: User; ownerId?: string }> {
  const inserted = await trx.raw(
    `insert into users (id, email, email_verified, password_hash, profile) values (?, ?, false, ?, ?)
     on conflict ((lower(email))) do nothing returning *`,
    [account.id, account.email, account.passwordHash, JSON.stringify(account.profile)],
  );
  const user = inserted.rows[0] as User | undefined;
  if (user) return { user };
  const owner = (await trx<User>('users').whereRaw('lower(email) = lower(?)', [account.email]).first()) as User;
  await queueMail(trx, deps, {
    to: owner.email,
    template: 'registration_attempt',
    data: { signInLink: deps.issuer, resetLink: `${deps.issuer}${FORGOT_PASSWORD_PATH}` },
  });
  return { ownerId: owner.id };
}

const attempted = (ownerId: string, clientId: string) =>
  ({ type: 'user.registration_attempted', subject: ownerId, userId: ownerId, clientId, data: {} }) as const;

export async function registerUser(
  ctx: ServiceContext,
  deps: AccountDeps,
  input: unknown,
  origin: SignupOrigin,
  profileProblems: Record<string, string> = {},
): Promise<SignupReceipt> {
  const data = parseSignup(deps, input, profileProblems);
  const passwordHash = await hashPassword(data.password, deps.bcryptCost);
  const receipt = await commitChange<SignupReceipt>(ctx, async (trx) => {
    const { user, ownerId } = await createOrNotify(trx, deps, { id: randomUUID(), email: data.email, passwordHash, profile: data.profile });
    if (!user) return { value: decoyReceipt(data.email), record: attempted(ownerId as string, origin.clientId) };
    await markConfirmed(trx, user.id, Object.keys(data.profile));
    await queueVerification(trx, deps, user, { interaction: origin.interactionUid, client_id: origin.clientId });
    return {
      value: { email: user.email, userId: user.id, passwordFingerprint: signInFingerprint(user) },
      record: { type: 'user.registered', subject: user.id, userId: user.id, clientId: origin.clientId, data: { email: user.email } },
    };
  });
  afterCommit(ctx.db, deps.mailQueued);
  return receipt;
}

export const passkeySignupSchema = z.object({ email: emailSchema }).strict();

/** Checks the address of a sign-up with a passkey, before its ceremony starts. */
export function parsePasskeySignup(input: unknown): { email: string } {
  const parsed = passkeySignupSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError('Check the highlighted fields', fieldProblems(parsed.error));
  return parsed.data;
}

/**
 * Sign-up with a passkey and no password: `passkey` was verified against this sign-up's own
 * challenge, made for `userId` (the id the new account takes). An address that has an account
 * gets the owner's notice instead, and the passkey is dropped.
 */
export async function registerUserWithPasskey(
  ctx: ServiceContext,
  deps: AccountDeps,
  signup: { email: string; userId: string },
  passkey: NewPasskey,
  origin: SignupOrigin,
): Promise<SignupReceipt> {
  const { email } = parsePasskeySignup({ email: signup.email });
  const receipt = await commitChange<SignupReceipt>(ctx, async (trx) => {
    const { user, ownerId } = await createOrNotify(trx, deps, { id: signup.userId, email, passwordHash: null, profile: {} });
    if (!user) return { value: decoyReceipt(email), record: attempted(ownerId as string, origin.clientId) };
    await insertPasskey(trx, user.id, passkey);
    await queueVerification(trx, deps, user, { interaction: origin.interactionUid, client_id: origin.clientId });
    return {
      value: { email: user.email, userId: user.id, passwordFingerprint: signInFingerprint(user) },
      record: {
        type: 'user.registered',
        subject: user.id,
        userId: user.id,
        clientId: origin.clientId,
        data: { email: user.email, with: 'passkey' },
      },
    };
  });
  afterCommit(ctx.db, deps.mailQueued);
  return receipt;
}
