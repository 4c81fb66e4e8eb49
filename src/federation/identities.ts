// Which upstream identity (connection + the provider's subject) belongs to which user. A link is
// made at a JIT creation, or after the owner of an existing account proved it is theirs
// (linking.ts); it is removed by its user, never when it is their last way to sign in.
import type { Db } from '../db/index.ts';
import { isForeignKeyViolation } from '../db/constraints.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import { ConflictError, NotFoundError } from '../errors/index.ts';

export interface FederatedIdentity {
  connection_id: string;
  subject: string;
  user_id: string;
  email: string | null;
  /** Linked by the account's owner, or on an email its provider verified (see passwordReset.ts). */
  proven: boolean;
  created_at: Date;
  last_used_at: Date | null;
}

/** The foreign key from a link to its connection (migrations/20261206000800_federation.ts). */
const CONNECTION_OF_LINK = 'federated_identities_connection_id_foreign';

/** Whether a link failed because its connection was deleted meanwhile (its links all went with it). */
export const isConnectionGone = (error: unknown) => isForeignKeyViolation(error, CONNECTION_OF_LINK);

export function findIdentity(db: Db, connectionId: string, subject: string): Promise<FederatedIdentity | undefined> {
  return db<FederatedIdentity>('federated_identities').where({ connection_id: connectionId, subject }).first();
}

/** A user's linked identities, with the name of the provider each came through. */
export async function listIdentities(db: Db, userId: string): Promise<(FederatedIdentity & { display_name: string })[]> {
  return db('federated_identities as f')
    .join('connections as c', 'c.id', 'f.connection_id')
    .where('f.user_id', userId)
    .orderBy('f.created_at')
    .select('f.*', 'c.display_name');
}

/** Links in the caller's transaction; false when the identity is already someone's (a parallel sign-in won). */
export async function insertIdentity(
  trx: Db,
  identity: { connectionId: string; subject: string; userId: string; email?: string; proven: boolean },
): Promise<boolean> {
  const inserted = await trx('federated_identities')
    .insert({
      connection_id: identity.connectionId,
      subject: identity.subject,
      user_id: identity.userId,
      email: identity.email ?? null,
      proven: identity.proven,
      last_used_at: trx.fn.now(),
    })
    .onConflict(['connection_id', 'subject'])
    .ignore()
    .returning('subject');
  return inserted.length === 1;
}

/** Notes a sign-in through the identity (and the email the provider gave this time). */
export async function touchIdentity(db: Db, connectionId: string, subject: string, email: string | undefined): Promise<void> {
  await db('federated_identities')
    .where({ connection_id: connectionId, subject })
    .update({ last_used_at: db.fn.now(), ...(email ? { email } : {}) });
}

/** Whether the user could still sign in without this identity: a password, a passkey, or another identity. */
async function hasAnotherWayIn(trx: Db, userId: string, connectionId: string, subject: string): Promise<boolean> {
  const user = await trx('users').where('id', userId).first('password_hash');
  if (user?.password_hash) return true;
  const passkey = await trx('passkeys').where('user_id', userId).first('id');
  if (passkey) return true;
  const other = await trx('federated_identities')
    .where('user_id', userId)
    .whereNot((q) => q.where({ connection_id: connectionId, subject }))
    .first('subject');
  return Boolean(other);
}

/** Removes a link of the user's; refused when it is their last way to sign in. */
export async function unlinkIdentity(ctx: ServiceContext, userId: string, connectionId: string, subject: string): Promise<void> {
  await commitChange(ctx, async (trx) => {
    // The user's row is locked so that two unlinks in parallel cannot each leave the other as the last way in.
    await trx('users').where('id', userId).forUpdate().first('id');
    const identity = await trx('federated_identities').where({ connection_id: connectionId, subject, user_id: userId }).first();
    if (!identity) throw new NotFoundError('No such linked identity');
    if (!(await hasAnotherWayIn(trx, userId, connectionId, subject)))
      throw new ConflictError('This is your only way to sign in. Set a password or add a passkey before you remove it.');
    await trx('federated_identities').where({ connection_id: connectionId, subject }).delete();
    return { value: undefined, record: { type: 'user.identity_unlinked', subject: userId, userId, data: { connection: connectionId } } };
  });
}

/** A linked identity as the CLI and the admin API show it. */
export interface LinkedIdentity {
  connection_id: string;
  display_name: string;
  subject: string;
  email: string | null;
  created_at: Date;
  last_used_at: Date | null;
}

export async function linkedUserCount(db: Db, connectionId: string): Promise<number> {
  const [row] = (await db('federated_identities').where('connection_id', connectionId).countDistinct({ n: 'user_id' })) as {
    n: string | number;
  }[];
  return Number(row?.n ?? 0);
}

export async function linkedIdentities(db: Db, userId: string): Promise<LinkedIdentity[]> {
  return (await listIdentities(db, userId)).map(({ connection_id, display_name, subject, email, created_at, last_used_at }) => ({
    connection_id,
    display_name,
    subject,
    email,
    created_at,
    last_used_at,
  }));
}
