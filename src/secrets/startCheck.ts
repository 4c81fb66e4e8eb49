// At start, before serving: every sealed value must open with the configured keyring. A server
// that cannot read its own signing keys, or that would quietly lose client secrets, refuses to
// start and says which setting is wrong, and nothing in the database changes.
//
// The database also remembers which key replaced which (secret_key_handovers, written whenever
// SECRET_KEY_PREVIOUS is set), so that removing SECRET_KEY_PREVIOUS before `secrets rotate`
// finished is named as exactly that, not as a wrong SECRET_KEY.
import type { Db } from '../db/index.ts';
import type { SecretBox } from './secretBox.ts';
import { describeCount, inspectSecrets, readableCount, type SecretsInventory, type Unreadable } from './inventory.ts';
import { logger } from '../http/logger.ts';

export class SecretKeyMismatchError extends Error {
  constructor(message = 'SECRET_KEY cannot decrypt the keys stored in the database: it is not the key they were created with.') {
    super(message);
    this.name = 'SecretKeyMismatchError';
  }
}

/** A signing or cookie key whose sealed secret does not open with the right key: moved or altered. */
export class DamagedKeyError extends Error {
  constructor(problems: Unreadable[]) {
    super(
      `${problems.map((p) => p.message).join('; ')}. Restore the keys table from a backup, or delete these rows and run "gatehouse keys rotate".`,
    );
    this.name = 'DamagedKeyError';
  }
}

/** Records that the previous keys were replaced by the current one. */
async function noteHandover(db: Db, box: SecretBox): Promise<void> {
  for (const previous of box.previousKeyIds) {
    await db('secret_key_handovers')
      .insert({ previous_key_id: previous, current_key_id: box.currentKeyId, noted_at: db.fn.now() })
      .onConflict('previous_key_id')
      .merge();
  }
}

function keyIdsOf(values: Unreadable[]): string {
  const ids = [...new Set(values.map((u) => u.keyId ?? 'none: the old format'))];
  return `key id${ids.length === 1 ? '' : 's'} ${ids.join(', ')}`;
}

const are = (values: unknown[]) => (values.length === 1 ? 'is' : 'are');

async function keyMismatch(db: Db, box: SecretBox, inventory: SecretsInventory, unknown: Unreadable[]): Promise<SecretKeyMismatchError> {
  const keyIds = [...new Set(unknown.map((u) => u.keyId).filter((id): id is string => id !== undefined))];
  const handedOver = keyIds.length
    ? await db('secret_key_handovers')
        .whereIn('previous_key_id', keyIds)
        .andWhere('current_key_id', box.currentKeyId)
        .pluck('previous_key_id')
    : [];
  if (unknown.every((u) => u.keyId !== undefined && handedOver.includes(u.keyId))) {
    return new SecretKeyMismatchError(
      `SECRET_KEY_PREVIOUS was removed before "gatehouse secrets rotate" re-sealed everything: ${describeCount(unknown)} ${are(unknown)} still sealed with the previous key (${keyIdsOf(unknown)}). Set SECRET_KEY_PREVIOUS to that key again, run "gatehouse secrets rotate", then remove it.`,
    );
  }
  if (readableCount(inventory) === 0) return new SecretKeyMismatchError();
  return new SecretKeyMismatchError(
    `${describeCount(unknown)} ${are(unknown)} sealed with a key that is neither SECRET_KEY nor SECRET_KEY_PREVIOUS (${keyIdsOf(unknown)}). If SECRET_KEY was changed, set SECRET_KEY_PREVIOUS to the key that sealed them and run "gatehouse secrets rotate".`,
  );
}

/** Throws SecretKeyMismatchError or DamagedKeyError when the server must not start. */
export async function checkSealedSecrets(db: Db, box: SecretBox): Promise<SecretsInventory> {
  const inventory = await inspectSecrets(db, box);
  const unknown = inventory.unreadable.filter((u) => u.problem === 'unknown-key');
  if (unknown.length) throw await keyMismatch(db, box, inventory, unknown);
  const damagedKeys = inventory.unreadable.filter((u) => u.table === 'keys');
  if (damagedKeys.length) throw new DamagedKeyError(damagedKeys);
  // A damaged client secret disables that client only (it gets invalid_client): worth an error
  // line, not a refusal to serve every other client.
  for (const problem of inventory.unreadable)
    logger.error('sealed secret does not open', { table: problem.table, rowId: problem.rowId, problem: problem.problem });
  const waiting = Object.entries(inventory.tables).filter(([, c]) => c.previous || c.legacy);
  if (waiting.length) {
    logger.warn('some secrets are not yet sealed with the current SECRET_KEY in the current format: run "gatehouse secrets rotate"', {
      tables: Object.fromEntries(waiting.map(([table, c]) => [table, { previous: c.previous ?? 0, legacy: c.legacy ?? 0 }])),
    });
  }
  await noteHandover(db, box);
  return inventory;
}
