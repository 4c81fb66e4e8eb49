// Changes to users. Each runs in one transaction with its audit record and domain event
// (changes/), takes a ServiceContext and throws only domain errors (errors/).
import { randomUUID } from 'node:crypto';
import { assertPasswordPolicy, hashPassword } from './passwords/index.ts';
import { revokeTokens } from './oneTimeTokens.ts';
import { z } from 'zod';
import type { Db } from '../db/index.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import { assertVersion, type VersionCheck } from '../changes/versionTag.ts';
import { isUniqueViolation } from '../db/constraints.ts';
import { ConflictError, InvalidInputError, NotFoundError, fieldProblems, parseInput } from '../errors/index.ts';
import { emailSchema, findUserById, newUserSchema, passwordSchema, profileName, publicUser, type User } from './users.ts';
import { DEFAULT_PROFILE_SCHEMA, type ProfileSchema } from '../profile/schema.ts';
import { checkProfilePatch, markConfirmed, mergeProfile, profilePatchProblems } from '../profile/service.ts';

const EMAIL_TAKEN = 'An account with this email already exists';

/** Unique regardless of letter case: the database says so, whichever request got there first. */
function refuseDuplicateEmail(error: unknown): never {
  if (isUniqueViolation(error)) throw new ConflictError(EMAIL_TAKEN);
  throw error;
}

/** A new user checked and with its password hashed: the slow part of a create, done outside any transaction. */
export interface PreparedUser {
  data: z.output<typeof newUserSchema>;
  passwordHash: string | null;
}

/** How passwords are checked and hashed: the server's BCRYPT_COST and PASSWORD_MIN_LENGTH. */
export interface PasswordRules {
  bcryptCost: number;
  passwordMinLength: number;
}

/** A cost alone (tests, seeds) keeps the default minimum length. */
export type PasswordRulesOrCost = PasswordRules | number;
const DEFAULT_MIN_LENGTH = 12;
const rulesOf = (rules: PasswordRulesOrCost): PasswordRules =>
  typeof rules === 'number' ? { bcryptCost: rules, passwordMinLength: DEFAULT_MIN_LENGTH } : rules;

/** The policy (length, breached list, strength, not the email or name) for a password an operator sets. */
function assertOperatorPassword(password: string, rules: PasswordRules, user: { email: string; name?: string }) {
  const local = user.email.split('@')[0];
  assertPasswordPolicy(password, { minLength: rules.passwordMinLength, userInputs: [user.email, local, user.name ?? ''].filter(Boolean) });
}

export async function prepareUser(
  input: unknown,
  rulesOrCost: PasswordRulesOrCost,
  schema: ProfileSchema = DEFAULT_PROFILE_SCHEMA,
): Promise<PreparedUser> {
  const rules = rulesOf(rulesOrCost);
  // Every problem at once: the fields' and the profile values' (checked against the schema).
  const parsed = newUserSchema.safeParse(input);
  const given = (input as { profile?: unknown } | null)?.profile;
  const profile =
    typeof given === 'object' && given !== null && !Array.isArray(given)
      ? profilePatchProblems(schema, given as Record<string, unknown>)
      : undefined;
  const problems = [...(parsed.success ? [] : fieldProblems(parsed.error)), ...(profile?.problems ?? [])];
  if (!parsed.success || problems.length) throw new InvalidInputError('Invalid input', problems);
  const data = { ...parsed.data, profile: definedValues(profile?.values ?? {}) };
  if (data.password) assertOperatorPassword(data.password, rules, { email: data.email, name: profileName(data.profile) });
  // An imported hash (newUserSchema checked its shape) is stored as it is.
  return { data, passwordHash: data.password ? await hashPassword(data.password, rules.bcryptCost) : (data.password_hash ?? null) };
}

export async function createUser(
  ctx: ServiceContext,
  input: unknown,
  rules: PasswordRulesOrCost,
  schema: ProfileSchema = DEFAULT_PROFILE_SCHEMA,
): Promise<User> {
  return createPreparedUser(ctx, await prepareUser(input, rules, schema));
}

// A new profile has nothing to remove: a null given for an attribute is the same as leaving it out.
const definedValues = (values: Record<string, unknown>) => Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null));

/** Stores a prepared user; hashing took a while and was done before, so no connection waited on it. */
export async function createPreparedUser(ctx: ServiceContext, { data, passwordHash }: PreparedUser): Promise<User> {
  return commitChange(ctx, async (trx) => {
    const row = {
      id: randomUUID(),
      email: data.email,
      email_verified: data.email_verified,
      password_hash: passwordHash,
      profile: JSON.stringify(data.profile),
    };
    const [user] = (await trx('users').insert(row).returning('*').catch(refuseDuplicateEmail)) as User[];
    await markConfirmed(trx, user.id, Object.keys(data.profile));
    return {
      value: user,
      record: { type: 'user.created', subject: user.id, userId: user.id, data: { email: user.email, email_verified: user.email_verified } },
    };
  });
}

/**
 * A user's row, locked until the change commits (a concurrent change waits for it), and still
 * the version the caller last read when they said which (If-Match).
 */
async function lockUser(trx: Db, id: string, check: VersionCheck): Promise<User> {
  const user = (await trx<User>('users').where('id', id).forUpdate().first()) as User | undefined;
  if (!user) throw new NotFoundError(`No user ${id}`);
  assertVersion(check.ifMatch, publicUser(user));
  return user;
}

// A claim set to null is removed; the others replace what the user had.
export const userUpdateSchema = z
  .object({
    email: emailSchema,
    email_verified: z.boolean(),
    profile: z.record(z.string(), z.unknown()),
  })
  .partial()
  .strict();
export type UserUpdate = z.input<typeof userUpdateSchema>;

export async function updateUser(
  ctx: ServiceContext,
  id: string,
  input: unknown,
  check: VersionCheck = {},
  schema: ProfileSchema = DEFAULT_PROFILE_SCHEMA,
): Promise<User> {
  const patch = parseInput(userUpdateSchema, input);
  // Only what changes is checked: values stored under an earlier schema stay as they are.
  const values = checkProfilePatch(schema, patch.profile ?? {});
  return commitChange(ctx, async (trx) => {
    const user = await lockUser(trx, id, check);
    const profile = mergeProfile(user.profile, values);
    const emailChanged = patch.email !== undefined && patch.email !== user.email;
    const changes = {
      ...(patch.email !== undefined ? { email: patch.email } : {}),
      // A new address is unverified unless the caller says otherwise.
      email_verified: patch.email_verified ?? (emailChanged ? false : user.email_verified),
      profile: JSON.stringify(profile),
      updated_at: trx.fn.now(),
    };
    const [updated] = (await trx('users').where('id', id).update(changes).returning('*').catch(refuseDuplicateEmail)) as User[];
    // Links sent to the old address must not verify, reset or accept for the new one.
    if (emailChanged) await revokeTokens(trx, id);
    await markConfirmed(
      trx,
      id,
      Object.entries(values).flatMap(([name, value]) => (value === null ? [] : [name])),
    );
    const changed = Object.keys(patch).flatMap((k) =>
      k === 'profile' ? Object.keys(patch.profile ?? {}).map((c) => `profile.${c}`) : [k],
    );
    return { value: updated, record: { type: 'user.updated', subject: id, userId: id, data: { changed } } };
  });
}

export async function setPassword(
  ctx: ServiceContext,
  id: string,
  password: unknown,
  rulesOrCost: PasswordRulesOrCost,
  check: VersionCheck = {},
): Promise<User> {
  const rules = rulesOf(rulesOrCost);
  const plain = parseInput(z.object({ password: passwordSchema }).strict(), { password }).password;
  const holder = await getUser(ctx.db, id);
  assertOperatorPassword(plain, rules, { email: holder.email, name: profileName(holder.profile) });
  const passwordHash = await hashPassword(plain, rules.bcryptCost);
  return commitChange(ctx, async (trx) => {
    await lockUser(trx, id, check);
    const [updated] = (await trx('users')
      .where('id', id)
      .update({ password_hash: passwordHash, updated_at: trx.fn.now() })
      .returning('*')) as User[];
    return { value: updated, record: { type: 'user.password_set', subject: id, userId: id, data: {} } };
  });
}

/** Deletes every session, grant, token and code of the user; returns how many. */
export function revokeEverything(trx: Db, userId: string): Promise<number> {
  return trx('oidc_payloads').where('account_id', userId).delete();
}

/**
 * A suspended user cannot sign in, and everything issued to them is revoked at once (opaque
 * tokens, refresh tokens, sessions; a JWT access token lives on at APIs until it expires).
 */
export async function suspendUser(ctx: ServiceContext, id: string, check: VersionCheck = {}): Promise<User> {
  return commitChange(ctx, async (trx) => {
    const user = await lockUser(trx, id, check);
    const [updated] = (await trx('users')
      .where('id', id)
      .update({ suspended_at: user.suspended_at ?? trx.fn.now(), updated_at: trx.fn.now() })
      .returning('*')) as User[];
    const revoked = await revokeEverything(trx, id);
    await revokeTokens(trx, id);
    return { value: updated, record: { type: 'user.suspended', subject: id, userId: id, data: { revoked_artefacts: revoked } } };
  });
}

export async function unsuspendUser(ctx: ServiceContext, id: string, check: VersionCheck = {}): Promise<User> {
  return commitChange(ctx, async (trx) => {
    await lockUser(trx, id, check);
    const [updated] = (await trx('users')
      .where('id', id)
      .update({ suspended_at: null, updated_at: trx.fn.now() })
      .returning('*')) as User[];
    return { value: updated, record: { type: 'user.unsuspended', subject: id, userId: id, data: {} } };
  });
}

/** Deletes the user and every protocol artefact issued to them. */
export async function deleteUser(ctx: ServiceContext, id: string, check: VersionCheck = {}): Promise<void> {
  await commitChange(ctx, async (trx) => {
    await lockUser(trx, id, check);
    await trx('users').where('id', id).delete();
    await revokeEverything(trx, id);
    return { value: undefined, record: { type: 'user.deleted', subject: id, userId: id, data: {} } };
  });
}

// ---- Sessions and grants of a user ----

export interface UserSession {
  id: string;
  clients: string[];
  authenticated_at: string | null;
  expires_at: string | null;
}

export interface UserGrant {
  id: string;
  client_id: string;
  scope: string;
  resources: string[];
  created_at: string | null;
  expires_at: string | null;
}

interface ArtefactRow {
  id: string;
  uid: string | null;
  payload: Record<string, unknown>;
  expires_at: Date | null;
}

const iso = (date: Date | null) => (date ? new Date(date).toISOString() : null);
const epochIso = (seconds: unknown) => (typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : null);

function liveArtefacts(db: Db, model: string, userId: string) {
  return db<ArtefactRow>('oidc_payloads')
    .where('account_id', userId)
    .andWhere('model', model)
    .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', db.fn.now()));
}

/** The user with this id, or a NotFoundError. */
export async function getUser(db: Db, id: string): Promise<User> {
  const user = await findUserById(db, id);
  if (!user) throw new NotFoundError(`No user ${id}`);
  return user;
}

export async function listUserSessions(db: Db, userId: string): Promise<UserSession[]> {
  await getUser(db, userId);
  const rows = await liveArtefacts(db, 'Session', userId).orderBy('expires_at', 'desc');
  return rows.map((row) => ({
    id: String(row.uid),
    clients: Object.keys((row.payload.authorizations as Record<string, unknown> | undefined) ?? {}),
    authenticated_at: epochIso(row.payload.loginTs),
    expires_at: iso(row.expires_at),
  }));
}

export async function listUserGrants(db: Db, userId: string): Promise<UserGrant[]> {
  await getUser(db, userId);
  const rows = await liveArtefacts(db, 'Grant', userId).orderBy('expires_at', 'desc');
  return rows.map((row) => {
    const openid = (row.payload.openid as { scope?: string } | undefined)?.scope ?? '';
    const resources = (row.payload.resources as Record<string, string> | undefined) ?? {};
    return {
      id: row.id,
      client_id: String(row.payload.clientId),
      scope: openid,
      resources: Object.keys(resources),
      created_at: epochIso(row.payload.iat),
      expires_at: iso(row.expires_at),
    };
  });
}

/** Signs the user out of one session (the browser's next visit asks them to sign in again). */
export async function revokeUserSession(ctx: ServiceContext, userId: string, sessionId: string): Promise<void> {
  await commitChange(ctx, async (trx) => {
    const deleted = await trx('oidc_payloads').where({ model: 'Session', uid: sessionId, account_id: userId }).delete();
    if (!deleted) throw new NotFoundError(`User ${userId} has no session ${sessionId}`);
    return { value: undefined, record: { type: 'user.session_revoked', subject: userId, userId, data: { session: sessionId } } };
  });
}

/** Withdraws one grant: its refresh and access tokens and codes stop working. */
export async function revokeUserGrant(ctx: ServiceContext, userId: string, grantId: string): Promise<void> {
  await commitChange(ctx, async (trx) => {
    const grant = await trx('oidc_payloads')
      .where({ model: 'Grant', id: grantId, account_id: userId })
      .first('id', trx.raw("payload->>'clientId' as client_id"));
    if (!grant) throw new NotFoundError(`User ${userId} has no grant ${grantId}`);
    await trx('oidc_payloads').where('grant_id', grantId).delete();
    await trx('oidc_payloads').where({ model: 'Grant', id: grantId }).delete();
    return {
      value: undefined,
      record: {
        type: 'user.grant_revoked',
        subject: userId,
        userId,
        clientId: grant.client_id,
        data: { grant: grantId, client_id: grant.client_id },
      },
    };
  });
}
