// Users as stored, and what reads them: the people who sign in. Emails are unique regardless of
// case (the database enforces it); passwords are bcrypt-based hashes (passwords/hash.ts); `id` is
// the stable, opaque `sub` handed to relying parties. Changes go through service.ts.
import { z } from 'zod';
import type { Db } from '../db/index.ts';
import { profileClaims } from '../profile/claims.ts';
import type { ProfileSchema } from '../profile/schema.ts';
import { PASSWORD_MAX_LENGTH, decoyCompare, importedPasswordHashSchema, verifyPasswordHash } from './passwords/index.ts';

export interface User {
  id: string;
  email: string;
  email_verified: boolean;
  password_hash: string | null;
  profile: Profile;
  /** Set while the user may not sign in (and holds no live token). */
  suspended_at: Date | null;
  /** Set after too many failed sign-ins: the right password is refused until then. */
  locked_until: Date | null;
  /** "Add a passkey" is not offered after sign-in before then (interactions/passkeyOffer). Internal. */
  passkey_offer_snoozed_until?: Date | null;
  /** Completed sign-ins, for the profile schema's min_sign_ins rules (src/profile). Internal. */
  sign_in_count?: number;
  created_at: Date;
  updated_at: Date;
}

/**
 * The profile: values keyed by attribute name, as the profile schema in force declares them
 * (src/profile: checked there, released as claims there). Here only its shape: a JSON object.
 */
export const profileSchema = z.record(z.string(), z.unknown()).meta({
  description: 'Profile attributes keyed by name: the standard OpenID Connect claims and the custom attributes of the profile schema',
});
export type Profile = Record<string, unknown>;

/** The name a profile gives, if any (for greetings, and to keep passwords from containing it). */
export const profileName = (profile: Profile | undefined): string | undefined =>
  typeof profile?.name === 'string' ? profile.name : undefined;

// What an operator may set (CLI, admin API): passwords are pre-hashed before bcrypt
// (passwords/hash.ts), so long ones count in full. The strength policy (passwords/policy.ts)
// applies to the passwords people choose on the hosted screens.
export const passwordSchema = z
  .string()
  .min(8, 'Password must be at least 8 characters')
  .max(PASSWORD_MAX_LENGTH, `Password must be at most ${PASSWORD_MAX_LENGTH} characters`);

export const emailSchema = z.string().trim().max(254, 'Email must be at most 254 characters').pipe(z.email('Enter a valid email address'));

export const newUserSchema = z
  .object({
    email: emailSchema,
    /** Omitted: the user has no password (they may get one later, or sign in another way). */
    password: passwordSchema.optional(),
    /**
     * A bcrypt hash brought from another system, stored as it is (instead of `password`): it
     * verifies as a legacy hash and is replaced by a current one at the first sign-in.
     */
    password_hash: importedPasswordHashSchema.optional().meta({
      description:
        'A bcrypt hash ($2a$, $2b$ or $2y$, cost 4-31) from another system, instead of password: stored as it is, and renewed in the current format at the first sign-in',
    }),
    email_verified: z.boolean().default(false),
    profile: profileSchema.default({}),
  })
  .strict()
  .refine((user) => user.password === undefined || user.password_hash === undefined, {
    path: ['password_hash'],
    message: 'Give a password or a password hash, not both',
  })
  .meta({ id: 'NewUser' });
export type NewUser = z.input<typeof newUserSchema>;

export function findUserById(db: Db, id: string): Promise<User | undefined> {
  return db<User>('users').where('id', id).first();
}

export function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db<User>('users').whereRaw('lower(email) = lower(?)', [email.trim()]).first();
}

/**
 * An address as the database compares it (lower() of the trimmed text, as the unique index and
 * findUserByEmail do): what counts as one account for rate limits. JavaScript's toLowerCase
 * differs for some letters (İ becomes i̇, not i), so the database is asked.
 */
export async function normalizedEmail(db: Db, email: string): Promise<string> {
  const row = (await db.first(db.raw('lower(?::text) as address', [email.trim()]))) as { address: string };
  return row.address;
}

/** A user by id or email, for operators who may type either. */
export function findUser(db: Db, idOrEmail: string): Promise<User | undefined> {
  return idOrEmail.includes('@') ? findUserByEmail(db, idOrEmail) : findUserById(db, idOrEmail);
}

/** The user behind a token or a session: none while suspended, so their tokens stop working. */
export function findActiveUserById(db: Db, id: string): Promise<User | undefined> {
  return db<User>('users').where('id', id).whereNull('suspended_at').first();
}

/**
 * The user when email and password match (suspended or not: only the owner of the password learns
 * that), otherwise undefined, in the same time either way: an unknown email is compared with a
 * decoy hash at the current cost.
 */
export async function verifyPassword(db: Db, email: string, password: string, bcryptCost: number): Promise<User | undefined> {
  const user = await findUserByEmail(db, email);
  if (!user?.password_hash) {
    await decoyCompare(password, bcryptCost);
    return undefined;
  }
  return (await verifyPasswordHash(password, user.password_hash)) ? user : undefined;
}

/** What a user's claims are made of: the account without its password hash. */
export type Account = Omit<User, 'password_hash' | 'suspended_at' | 'locked_until'>;

/**
 * SQL for the account of users row `alias` as one JSON object, for a query that brings the
 * account along with something else (see oidc/readAhead.ts); read back with accountFromJson.
 */
// Null when the join found no user (deleted, or suspended): jsonb_build_object alone would make
// an object of nulls, which reads as an account without an id.
export const accountJsonSql = (alias: string) =>
  `case when ${alias}.id is null then null else jsonb_build_object('id', ${alias}.id, 'email', ${alias}.email, 'email_verified', ${alias}.email_verified, 'profile', ${alias}.profile, 'created_at', ${alias}.created_at, 'updated_at', ${alias}.updated_at) end`;

export function accountFromJson(json: Record<string, unknown>): Account {
  return {
    id: json.id as string,
    email: json.email as string,
    email_verified: json.email_verified as boolean,
    profile: json.profile as Profile,
    created_at: new Date(json.created_at as string),
    updated_at: new Date(json.updated_at as string),
  };
}

/** The claims a user can release; oidc-provider keeps only those the granted scopes allow. */
export function userClaims(user: Account, schema: ProfileSchema): Record<string, unknown> {
  return {
    sub: user.id,
    email: user.email,
    email_verified: user.email_verified,
    ...profileClaims(schema, user.profile),
    updated_at: Math.floor(new Date(user.updated_at).getTime() / 1000),
  };
}

/** A user as the CLI and the admin API show it: never the password hash. */
export interface PublicUser
  extends Omit<User, 'password_hash' | 'suspended_at' | 'locked_until' | 'passkey_offer_snoozed_until' | 'sign_in_count'> {
  has_password: boolean;
  suspended: boolean;
  suspended_at: Date | null;
  /** Set while sign-in is refused after too many failures (until then). */
  locked_until: Date | null;
}

export function publicUser(user: User): PublicUser {
  // What only the screens use stays out.
  const { password_hash, passkey_offer_snoozed_until: _offer, sign_in_count: _signIns, ...rest } = user;
  return {
    ...rest,
    suspended_at: user.suspended_at ?? null,
    suspended: Boolean(user.suspended_at),
    locked_until: user.locked_until ?? null,
    has_password: Boolean(password_hash),
  };
}

export interface UserQuery {
  limit: number;
  /** The last user of the previous page. */
  after?: { createdAt: string; id: string };
  /** Exact address, any letter case. */
  email?: string;
  createdFrom?: Date;
  createdBefore?: Date;
}

/**
 * Users oldest first, a page at a time (keyset pagination on creation time and id: a page never
 * repeats or loses a user because others were added, except one whose creating transaction
 * started before the previous page was read and committed after it).
 */
export async function listUsers(db: Db, query: UserQuery): Promise<User[]> {
  const q = db<User>('users')
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .limit(query.limit);
  if (query.after) q.whereRaw('(created_at, id) > (?::timestamptz, ?)', [query.after.createdAt, query.after.id]);
  if (query.email) q.whereRaw('lower(email) = lower(?)', [query.email.trim()]);
  if (query.createdFrom) q.where('created_at', '>=', query.createdFrom);
  if (query.createdBefore) q.where('created_at', '<', query.createdBefore);
  return q;
}
