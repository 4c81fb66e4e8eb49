// KnexAdapter: oidc-provider's persistence for every model, on PostgreSQL (server or PGlite).
// Artefacts share one table keyed by (model, id); clients have their own table (see clients.ts).
// An expired row is never returned, even before the sweeper has deleted it.
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { containsNul } from '../db/text.ts';
import type { Db } from '../db/index.ts';
import type { ClientStore } from './clients.ts';

interface PayloadRow {
  payload: AdapterPayload;
  consumed_at: Date | null;
}

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);

const UPSERT_SQL = `insert into oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at)
  values ($1, $2, $3, $4, $5, $6, $7)
  on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id,
    user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`;
// The same statement with knex's placeholders, for the embedded database.
const UPSERT_SQL_KNEX = UPSERT_SQL.replace(/\$\d/g, '?');

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
    const values = [
      this.model,
      id,
      JSON.stringify(payload),
      payload.grantId ?? null,
      payload.userCode ?? null,
      payload.uid ?? null,
      expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
    ];
    // Every token issued is one of these: on a PostgreSQL server it runs as a named prepared
    // statement straight on a pooled connection, which saves knex building it each time.
    if (this.db.client.config.client === 'pg') {
      // Announced like any knex query, so query listeners (the benchmark's counter) still see it.
      this.db.emit('query', { sql: UPSERT_SQL, bindings: values, method: 'raw' });
      const connection = await this.db.client.acquireConnection();
      try {
        await connection.query({ name: 'gatehouse_oidc_upsert', text: UPSERT_SQL, values });
      } finally {
        await this.db.client.releaseConnection(connection);
      }
      return;
    }
    await this.db.raw(UPSERT_SQL_KNEX, values);
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
