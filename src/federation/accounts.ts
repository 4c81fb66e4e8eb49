// Who an upstream identity is here. The rules that keep a federated sign-in from taking over or
// duplicating an account:
//   - an identity already linked signs in its user (and, per the connection, refreshes the
//     mapped claims);
//   - an identity whose email has no account here creates one when the connection allows JIT
//     (email_verified as the provider said it, the mapped claims as the profile);
//   - an identity whose email already has an account is never linked silently: only a verified
//     email may be linked, and only after the account's owner proved it is theirs (linking.ts);
//     an unverified one is refused, with what to do instead.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.ts';
import { commitChange, recordChange, type ServiceContext } from '../changes/index.ts';
import { findUserByEmail, findUserById, type User } from '../accounts/index.ts';
import { emailSchema } from '../accounts/users.ts';
import type { ProfileSchema } from '../profile/schema.ts';
import { checkValue, type ProfileValue } from '../profile/values.ts';
import { markConfirmed, mergeProfile } from '../profile/service.ts';
import type { Connection } from './connections.ts';
import { findIdentity, insertIdentity, isConnectionGone, touchIdentity } from './identities.ts';
import type { UpstreamIdentity } from './oidcUpstream.ts';

export type FederatedOutcome =
  | { kind: 'signed_in'; user: User; created: boolean }
  /** The verified email has an account here: its owner must prove it is theirs before the link is made. */
  | { kind: 'link_needed'; user: User; email: string }
  /** gone: the connection was deleted while the person was at the provider. */
  | { kind: 'refused'; reason: 'email_taken' | 'no_account' | 'no_email' | 'gone' };

/** A claim by name (SAML names such as urn:oid:2.5.4.42 hold dots), or by dotted path into an object claim. */
function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path];
  return path
    .split('.')
    .reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), claims);
}

/**
 * The profile values the upstream's claims give: every standard claim of the schema by its own
 * name, then the connection's mapping (attribute ← claim). A value that does not pass the
 * attribute's checks is left out rather than stored.
 */
export function mappedProfile(
  schema: ProfileSchema,
  connection: Connection,
  claims: Record<string, unknown>,
): Record<string, ProfileValue> {
  const sources: Record<string, string> = Object.fromEntries(schema.attributes.filter((a) => a.standard).map((a) => [a.name, a.name]));
  Object.assign(sources, connection.mapping);
  const values: Record<string, ProfileValue> = {};
  for (const [name, path] of Object.entries(sources)) {
    const attribute = schema.byName.get(name);
    const raw = claimAt(claims, path);
    if (!attribute || raw === undefined || raw === null) continue;
    const checked = checkValue(
      attribute,
      typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'object' ? raw : String(raw),
    );
    if ('value' in checked) values[name] = checked.value;
  }
  return values;
}

const emailOf = (claims: Record<string, unknown>) => {
  const parsed = emailSchema.safeParse(claims.email);
  return parsed.success ? parsed.data : undefined;
};

async function refreshClaims(db: Db, userId: string, values: Record<string, ProfileValue>): Promise<void> {
  if (!Object.keys(values).length) return;
  await db.transaction(async (trx) => {
    const user = await trx('users').where('id', userId).forUpdate().first('profile');
    await trx('users')
      .where('id', userId)
      .update({ profile: JSON.stringify(mergeProfile(user?.profile ?? {}, values)), updated_at: trx.fn.now() });
    await markConfirmed(trx, userId, Object.keys(values));
  });
}

/** Creates the user and links the identity in one transaction; undefined when the email got an account meanwhile. */
async function provision(
  ctx: ServiceContext,
  connection: Connection,
  identity: UpstreamIdentity,
  email: string,
  profile: Record<string, ProfileValue>,
): Promise<User | undefined> {
  return commitChange(ctx, async (trx) => {
    const inserted = await trx.raw(
      `insert into users (id, email, email_verified, password_hash, profile) values (?, ?, ?, null, ?)
       on conflict ((lower(email))) do nothing returning *`,
      [randomUUID(), email, identity.claims.email_verified === true, JSON.stringify(profile)],
    );
    const user = inserted.rows[0] as User | undefined;
    if (!user) return { value: undefined, record: null };
    // Proven only when the provider verified the email: otherwise its holder may not own the
    // address, and a reset by the address's owner removes the link (passwordReset.ts).
    const proven = user.email_verified;
    if (!(await insertIdentity(trx, { connectionId: connection.id, subject: identity.subject, userId: user.id, email, proven })))
      throw new Error('upstream identity linked by a parallel sign-in');
    await markConfirmed(trx, user.id, Object.keys(profile));
    return {
      value: user,
      record: {
        type: 'user.provisioned',
        subject: user.id,
        userId: user.id,
        data: { connection: connection.id, email: user.email, email_verified: user.email_verified, attributes: Object.keys(profile) },
      },
    };
  });
}

/** Who this upstream identity is here (see the rules above). */
export async function resolveFederatedUser(
  ctx: ServiceContext,
  schema: ProfileSchema,
  connection: Connection,
  identity: UpstreamIdentity,
): Promise<FederatedOutcome> {
  const email = emailOf(identity.claims);
  const linked = await findIdentity(ctx.db, connection.id, identity.subject);
  if (linked) {
    const user = await findUserById(ctx.db, linked.user_id);
    if (user) {
      if (connection.claims_update === 'on_sign_in')
        await refreshClaims(ctx.db, user.id, mappedProfile(schema, connection, identity.claims));
      // A sign-in through a linked identity is an event of its own (JIT creation and linking are theirs).
      await commitChange(ctx, async (trx) => {
        await touchIdentity(trx, connection.id, identity.subject, email);
        return {
          value: undefined,
          record: { type: 'login.federated', subject: user.id, userId: user.id, data: { connection: connection.id } },
        };
      });
      return { kind: 'signed_in', user: (await findUserById(ctx.db, user.id)) as User, created: false };
    }
  }
  if (!email) return { kind: 'refused', reason: 'no_email' };
  const existing = await findUserByEmail(ctx.db, email);
  if (existing) {
    const verified = identity.claims.email_verified === true;
    return verified && connection.linking === 'verified_email_with_proof'
      ? { kind: 'link_needed', user: existing, email }
      : { kind: 'refused', reason: 'email_taken' };
  }
  if (!connection.jit) return { kind: 'refused', reason: 'no_account' };
  try {
    const created = await provision(ctx, connection, identity, email, mappedProfile(schema, connection, identity.claims));
    // The email got an account between the look and the insert: go round once more.
    if (!created) return resolveFederatedUser(ctx, schema, connection, identity);
    return { kind: 'signed_in', user: created, created: true };
  } catch (error) {
    if (isConnectionGone(error)) return { kind: 'refused', reason: 'gone' };
    // A parallel first sign-in of the same identity linked it first: that one's user is this one.
    if (await findIdentity(ctx.db, connection.id, identity.subject)) return resolveFederatedUser(ctx, schema, connection, identity);
    throw error;
  }
}

/**
 * Links an identity to the user who proved the account is theirs: linked; taken (the identity is
 * already someone's); or gone (its connection was deleted meanwhile, links and all).
 */
export async function linkProvenIdentity(
  ctx: ServiceContext,
  link: { connectionId: string; subject: string; userId: string; email: string },
): Promise<'linked' | 'taken' | 'gone'> {
  try {
    return await ctx.db.transaction(async (trx) => {
      if (!(await insertIdentity(trx, { ...link, proven: true }))) return 'taken';
      await recordChange(trx, ctx, {
        type: 'user.identity_linked',
        subject: link.userId,
        userId: link.userId,
        data: { connection: link.connectionId, email: link.email },
      });
      return 'linked';
    });
  } catch (error) {
    if (isConnectionGone(error)) return 'gone';
    throw error;
  }
}
