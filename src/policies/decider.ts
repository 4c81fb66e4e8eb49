// One user's decisions are recorded one transaction at a time. Each recording first reads the
// user's latest decision and appends a row only when the new one differs; under READ COMMITTED
// two parallel submissions (a double click, two tabs) would both read "no decision yet" and both
// append. Locking the user's row first makes the second wait for the first to commit, and its
// read, a new statement with a new snapshot, then sees the first's row.
import type { Db } from '../db/index.ts';
import { NotFoundError } from '../errors/index.ts';

/**
 * Locks the user's row until the transaction ends. FOR NO KEY UPDATE, not FOR UPDATE: the
 * ledger rows' foreign keys take KEY SHARE on it, which this does not block.
 */
export async function lockDecider(trx: Db, userId: string): Promise<void> {
  const user = await trx('users').where('id', userId).forNoKeyUpdate().first('id');
  if (!user) throw new NotFoundError(`No user ${userId}`);
}
