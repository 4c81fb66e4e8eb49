// `secrets rotate`: re-seals every sealed value under the current SECRET_KEY, in the v2 format
// that binds it to its row, inside one transaction. Either every value moves to the current key
// or none does: a value that does not open stops the rotation and nothing is written, so the
// previous key is never left as the only one that opens something.
import { SealedSecretError, type SecretBox } from './secretBox.ts';
import { SEALED_COLUMNS } from './sealedColumns.ts';
import { describeCount, openedState, sealedRows, unreadable, type Unreadable } from './inventory.ts';
import { recordChange, type ServiceContext } from '../changes/index.ts';
import { resealArtefacts } from '../oidc/storedArtefacts.ts';

export interface SecretsRotationResult {
  /** The key everything is now sealed with. */
  keyId: string;
  /** Per table, values re-sealed (from SECRET_KEY_PREVIOUS or the old format). */
  resealed: Record<string, number>;
  /** Per table, values already sealed with the current key in the current format. */
  unchanged: Record<string, number>;
  /** Per table, values that opened with no key of the ring and were deleted (artefacts only: unusable anyway). */
  dropped?: Record<string, number>;
}

export class SecretsRotationError extends Error {
  readonly unreadable: Unreadable[];
  constructor(problems: Unreadable[]) {
    super(
      `Nothing was re-sealed: ${describeCount(problems)} ${problems.length === 1 ? 'does' : 'do'} not open with SECRET_KEY or SECRET_KEY_PREVIOUS`,
    );
    this.name = 'SecretsRotationError';
    this.unreadable = problems;
  }
}

export async function rotateSecrets(ctx: ServiceContext, box: SecretBox): Promise<SecretsRotationResult> {
  const { db } = ctx;
  // Sessions, device codes and interactions in progress carry sealed fields too: re-sealed first,
  // in batches and without locks (see resealArtefacts), since the server keeps writing them.
  const artefacts = await resealArtefacts(db, box);
  return db.transaction(async (trx) => {
    // A rotation over many clients may take longer than a request's statement limit.
    if (db.client.config.client === 'pg') await trx.raw('set local statement_timeout = 0');
    const result: SecretsRotationResult = { keyId: box.currentKeyId, resealed: {}, unchanged: {} };
    const problems: Unreadable[] = [];
    for (const column of SEALED_COLUMNS) {
      result.resealed[column.table] = 0;
      result.unchanged[column.table] = 0;
      // Locked, so a concurrent writer cannot slip an old-key value in behind the rotation.
      for (const row of await sealedRows(trx, column, true)) {
        let opened: ReturnType<typeof openedState>;
        try {
          opened = openedState(box, row);
        } catch (error) {
          if (!(error instanceof SealedSecretError)) throw error;
          problems.push(unreadable(row, error));
          continue;
        }
        if (opened.state === 'current') {
          result.unchanged[column.table] += 1;
          continue;
        }
        await trx(column.table)
          .where(column.idColumn, row.rowId)
          .update({ [column.column]: (column.prefix ?? '') + box.seal(opened.plain, row.context) });
        result.resealed[column.table] += 1;
      }
    }
    if (problems.length) throw new SecretsRotationError(problems);
    result.resealed.oidc_payloads = artefacts.resealed;
    if (artefacts.dropped) result.dropped = { oidc_payloads: artefacts.dropped };
    await recordChange(trx, ctx, { type: 'secrets.rotated', subject: 'secrets', data: { keyId: result.keyId, resealed: result.resealed } });
    return result;
  });
}
