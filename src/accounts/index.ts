// Accounts: the people who sign in. Emails are unique regardless of case (the database enforces
// it); passwords are bcrypt hashes; `id` is the stable, opaque `sub` handed to relying parties.
import { randomUUID } from 'node:crypto';
import bcrypt from 'bcrypt';
import { z } from 'zod';
import type { Db } from '../db/index.ts';

export interface User {
  id: string;
  email: string;
  email_verified: boolean;
  password_hash: string | null;
  profile: Profile;
  created_at: Date;
  updated_at: Date;
}

/** Standard OIDC claims other than email that a user may carry. */
export const profileSchema = z
  .object({
    name: z.string().max(200),
    given_name: z.string().max(100),
    family_name: z.string().max(100),
    middle_name: z.string().max(100),
    nickname: z.string().max(100),
    preferred_username: z.string().max(100),
    picture: z.url().max(2000),
    website: z.url().max(2000),
    locale: z.string().max(35),
    zoneinfo: z.string().max(64),
    birthdate: z.string().regex(/^\d{4}(-\d{2}-\d{2})?$/, 'birthdate must be YYYY or YYYY-MM-DD'),
    gender: z.string().max(50),
  })
  .partial()
  .strict();
export type Profile = z.infer<typeof profileSchema>;

// bcrypt reads at most 72 bytes; refusing longer passwords beats silently ignoring their tail.
const MAX_PASSWORD_BYTES = 72;
export const passwordSchema = z
  .string()
  .min(8, 'Password must be at least 8 characters')
  .refine((p) => Buffer.byteLength(p) <= MAX_PASSWORD_BYTES, `Password must be at most ${MAX_PASSWORD_BYTES} bytes`);

export const emailSchema = z.string().trim().max(254, 'Email must be at most 254 characters').pipe(z.email('Enter a valid email address'));

export const newUserSchema = z.object({
  email: emailSchema,
  password: passwordSchema.optional(),
  emailVerified: z.boolean().default(false),
  profile: profileSchema.default({}),
});
export type NewUser = z.input<typeof newUserSchema>;

export class EmailTakenError extends Error {
  constructor() {
    super('An account with this email already exists');
    this.name = 'EmailTakenError';
  }
}

export async function createUser(db: Db, input: NewUser, bcryptCost: number): Promise<User> {
  const data = newUserSchema.parse(input);
  const row = {
    id: randomUUID(),
    email: data.email,
    email_verified: data.emailVerified,
    password_hash: data.password ? await bcrypt.hash(data.password, bcryptCost) : null,
    profile: JSON.stringify(data.profile),
  };
  try {
    const [user] = await db('users').insert(row).returning('*');
    return user as User;
  } catch (error) {
    if ((error as { code?: string }).code === '23505') throw new EmailTakenError();
    throw error;
  }
}

export function findUserById(db: Db, id: string): Promise<User | undefined> {
  return db<User>('users').where('id', id).first();
}

export function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db<User>('users').whereRaw('lower(email) = lower(?)', [email.trim()]).first();
}

/** A user by id or email, for operators who may type either. */
export function findUser(db: Db, idOrEmail: string): Promise<User | undefined> {
  return idOrEmail.includes('@') ? findUserByEmail(db, idOrEmail) : findUserById(db, idOrEmail);
}

export function listUsers(db: Db, { limit = 100, offset = 0 } = {}): Promise<User[]> {
  return db<User>('users').orderBy('created_at').limit(limit).offset(offset);
}

/** Deletes the user and every protocol artefact issued to them. */
export async function deleteUser(db: Db, id: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    const deleted = await trx('users').where('id', id).delete();
    if (deleted) await trx('oidc_payloads').whereRaw("payload->>'accountId' = ?", [id]).delete();
    return deleted > 0;
  });
}

// A real hash of a random value, compared when the email is unknown, so the answer takes as long
// for an unknown email as for a wrong password and timing does not reveal who has an account.
let decoyHash: Promise<string> | undefined;

/** The user when email and password match, otherwise undefined, in the same time either way. */
export async function verifyPassword(db: Db, email: string, password: string, bcryptCost: number): Promise<User | undefined> {
  const user = await findUserByEmail(db, email);
  if (!user?.password_hash || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    decoyHash ??= bcrypt.hash(randomUUID(), bcryptCost);
    await bcrypt.compare(password, await decoyHash);
    return undefined;
  }
  return (await bcrypt.compare(password, user.password_hash)) ? user : undefined;
}

/** The claims a user can release; oidc-provider keeps only those the granted scopes allow. */
/** What a user's claims are made of: the account without its password hash. */
export type Account = Omit<User, 'password_hash'>;

/**
 * SQL for the account of users row `alias` as one JSON object, for a query that brings the
 * account along with something else (see oidc/readAhead.ts); read back with accountFromJson.
 */
export const accountJsonSql = (alias: string) =>
  `jsonb_build_object('id', ${alias}.id, 'email', ${alias}.email, 'email_verified', ${alias}.email_verified, 'profile', ${alias}.profile, 'created_at', ${alias}.created_at, 'updated_at', ${alias}.updated_at)`;

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

export function userClaims(user: Account): Record<string, unknown> {
  return {
    sub: user.id,
    email: user.email,
    email_verified: user.email_verified,
    ...user.profile,
    updated_at: Math.floor(new Date(user.updated_at).getTime() / 1000),
  };
}

export function publicUser(user: User) {
  const { password_hash, ...rest } = user;
  return { ...rest, has_password: Boolean(password_hash) };
}
