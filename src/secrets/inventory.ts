// What the database holds under SECRET_KEY: every sealed value of every sealed column, and
// whether it opens with the configured keyring (and with which key). Read at start (startCheck.ts)
// and by `secrets status`; `secrets rotate` (rotation.ts) walks the same rows.
import type { Db } from '../db/index.ts';
import { SealedSecretError, type SealContext, type SealedSecretProblem, type SecretBox } from './secretBox.ts';
import { SEALED_COLUMNS, type SealedColumn } from './sealedColumns.ts';

/** current / previous: opens, sealed by SECRET_KEY / SECRET_KEY_PREVIOUS; legacy: format v1. */
export type SealState = 'current' | 'previous' | 'legacy' | SealedSecretProblem;

export interface SealedRow {
  column: SealedColumn;
  rowId: string;
  /** The value without the column's prefix. */
  sealed: string;
  context: SealContext;
}

export interface Unreadable {
  table: string;
  rowId: string;
  problem: SealedSecretProblem;
  keyId?: string;
  message: string;
}

export interface SecretsInventory {
  keyId: string;
  previousKeyIds: readonly string[];
  /** Per table, how many sealed values are in each state. */
  tables: Record<string, Partial<Record<SealState, number>>>;
  unreadable: Unreadable[];
}

/** The sealed values of one column; locked for update when `forUpdate` (inside a transaction). */
export async function sealedRows(db: Db, column: SealedColumn, forUpdate = false): Promise<SealedRow[]> {
  const query = db(column.table)
    .select(column.idColumn, column.column, ...(column.extraColumns ?? []))
    .whereNotNull(column.column)
    .orderBy(column.idColumn);
  if (column.prefix) query.andWhere(column.column, 'like', `${column.prefix}%`);
  if (forUpdate) query.forUpdate();
  const rows = (await query) as Record<string, string>[];
  return rows.map((row) => ({
    column,
    rowId: row[column.idColumn],
    sealed: row[column.column].slice(column.prefix?.length ?? 0),
    context: column.context(row),
  }));
}

/** Opens the value and says how it was sealed; throws SealedSecretError when it does not open. */
export function openedState(box: SecretBox, row: SealedRow): { plain: string; state: 'current' | 'previous' | 'legacy' } {
  const plain = box.open(row.sealed, row.context);
  const keyId = box.keyIdOf(row.sealed);
  return { plain, state: keyId === undefined ? 'legacy' : keyId === box.currentKeyId ? 'current' : 'previous' };
}

export function unreadable(row: SealedRow, error: SealedSecretError): Unreadable {
  return { table: row.column.table, rowId: row.rowId, problem: error.problem, keyId: error.keyId, message: error.message };
}

export async function inspectSecrets(db: Db, box: SecretBox): Promise<SecretsInventory> {
  const inventory: SecretsInventory = { keyId: box.currentKeyId, previousKeyIds: box.previousKeyIds, tables: {}, unreadable: [] };
  for (const column of SEALED_COLUMNS) {
    const counts: Partial<Record<SealState, number>> = {};
    inventory.tables[column.table] = counts;
    for (const row of await sealedRows(db, column)) {
      let state: SealState;
      try {
        state = openedState(box, row).state;
      } catch (error) {
        if (!(error instanceof SealedSecretError)) throw error;
        state = error.problem;
        inventory.unreadable.push(unreadable(row, error));
      }
      counts[state] = (counts[state] ?? 0) + 1;
    }
  }
  return inventory;
}

/** How many values open, in every table together. */
export function readableCount(inventory: SecretsInventory): number {
  return Object.values(inventory.tables).reduce((sum, c) => sum + (c.current ?? 0) + (c.previous ?? 0) + (c.legacy ?? 0), 0);
}

/** "4 secrets (keys: 3, clients: 1)" for the given values. */
export function describeCount(values: { table: string }[]): string {
  const byTable = new Map<string, number>();
  for (const { table } of values) byTable.set(table, (byTable.get(table) ?? 0) + 1);
  const parts = [...byTable].map(([table, n]) => `${table}: ${n}`).join(', ');
  return `${values.length} secret${values.length === 1 ? '' : 's'} (${parts})`;
}
