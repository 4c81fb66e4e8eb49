// KnexAdapter: oidc-provider's persistence for every model, on PostgreSQL (server or PGlite).
// Artefacts share one table keyed by (model, id); clients have their own table (see clients.ts).
// An expired row is never returned, even before the sweeper has deleted it.
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { containsNul } from '../db/text.ts';
import type { Db } from '../db/index.ts';
import type { ClientStore } from './clients.ts';
import { payloadWriterFor } from './payloadWriter.ts';

interface PayloadRow {
  payload: AdapterPayload;
  consumed_at: Date | null;
}

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);

export class KnexAdapter implements Adapter {
  private readonly model: string;
  private readonly db: Db;

  constructor(model: string, db: Db) {
    this.model = model;
    this.db = db;
  }

  private live() {
    const { db } = this;
    return db<PayloadRow>('oidc_payloads')
      .where('model', this.model)
      .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', db.fn.now()));
  }

  private static toPayload(row: PayloadRow | undefined): AdapterPayload | undefined {
    if (!row) return undefined;
    return row.consumed_at ? { ...row.payload, consumed: epoch(row.consumed_at) } : row.payload;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    // Request parameters end up in payloads (state, nonce, …); a NUL among them is bad input.
    if (containsNul(payload) || containsNul(id)) throw new errors.InvalidRequest('request contains a NUL character');
    // Every artefact is written through the database's one writer, which commits rows that
    // arrive together in one statement (see payloadWriter.ts).
    await payloadWriterFor(this.db).write({
      model: this.model,
      id,
      payload: JSON.stringify(payload),
      grantId: payload.grantId ?? null,
      userCode: payload.userCode ?? null,
      uid: payload.uid ?? null,
      expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
    });
  }

  // Lookups by a value the client sent: one with a NUL cannot exist, so nothing is found.
  async find(id: string): Promise<AdapterPayload | undefined> {
    if (containsNul(id)) return undefined;
    return KnexAdapter.toPayload(await this.live().andWhere('id', id).first('payload', 'consumed_at'));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    if (containsNul(userCode)) return undefined;
    return KnexAdapter.toPayload(await this.live().andWhere('user_code', userCode).first('payload', 'consumed_at'));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (containsNul(uid)) return undefined;
    return KnexAdapter.toPayload(await this.live().andWhere('uid', uid).first('payload', 'consumed_at'));
  }

  async consume(id: string): Promise<void> {
    await this.db('oidc_payloads').where({ model: this.model, id }).update({ consumed_at: this.db.fn.now() });
  }

  async destroy(id: string): Promise<void> {
    await this.db('oidc_payloads').where({ model: this.model, id }).delete();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db('oidc_payloads').where({ model: this.model, grant_id: grantId }).delete();
  }
}

/** The adapter factory handed to oidc-provider: Client gets the clients table, the rest one table. */
export function knexAdapterFactory(db: Db, clients: ClientStore) {
  return (model: string): Adapter => (model === 'Client' ? clients.adapter : new KnexAdapter(model, db));
}

/**
 * Deletes expired artefacts in small batches, each its own short statement, so the sweep never
 * holds long locks or blocks sign-ins. Returns how many rows went.
 */
export async function sweepExpired(db: Db, batchSize = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted: number = await db('oidc_payloads')
      .whereIn(['model', 'id'], db('oidc_payloads').select('model', 'id').where('expires_at', '<=', db.fn.now()).limit(batchSize))
      .delete();
    // A driver that answers something other than a row count would otherwise make this loop forever.
    if (!Number.isInteger(deleted)) throw new TypeError(`sweepExpired: delete returned ${typeof deleted}, not a row count`);
    total += deleted;
    if (deleted < batchSize) return total;
  }
}
