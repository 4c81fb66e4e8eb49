// KnexAdapter: oidc-provider's persistence for every model, on PostgreSQL (server or PGlite).
// Artefacts share one table keyed by (model, digest of the id); clients have their own table
// (see clients.ts). What a row may hold is decided in storedArtefacts.ts: no usable credential.
// An expired row is never returned, even before the sweeper has deleted it.
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { containsNul } from '../db/text.ts';
import type { Db } from '../db/index.ts';
import type { ClientStore } from './clients.ts';
import { payloadWriterFor } from './payloadWriter.ts';
import { artefactDigest, ArtefactProtection } from './storedArtefacts.ts';
import { SealedSecretError, type SecretBox } from '../secrets/secretBox.ts';
import { logger } from '../http/logger.ts';
import { preparedStatementsFor } from '../db/preparedStatements.ts';
import { accountJsonSql } from '../accounts/index.ts';
import { consumeOnce, consumeWithReplacement, rotatedBy } from './singleUse.ts';
import { accountKey, grantKey, inReadAheadScope, setAside, takeSetAside } from './readAhead.ts';

interface PayloadRow {
  id: string;
  payload: Record<string, unknown>;
  consumed_at: Date | null;
}

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);

// Replay detection (client-assertion and DPoP `jti`s) asks "is this id new?": its rows are
// inserted, never overwritten, so of two requests carrying one id only one can get in.
const INSERT_ONLY_MODELS = new Set(['ReplayDetection']);

// Tokens that oidc-provider consumes only to save their replacement next (refresh token rotation).
const ROTATED_MODELS = new Set(['RefreshToken']);

// Tokens whose use goes on to look up their grant and account (see readAhead.ts).
const READ_AHEAD_MODELS = new Set(['RefreshToken', 'AuthorizationCode', 'AccessToken', 'DeviceCode']);

// A named prepared statement (db/preparedStatements.ts): planning the join took longer than
// running it.
const READ_AHEAD_STATEMENT = 'gatehouse_read_ahead';
const READ_AHEAD_SQL = `select t.id, t.payload, t.consumed_at,
    g.payload as grant_payload, g.consumed_at as grant_consumed_at,
    ${accountJsonSql('u')} as account
  from oidc_payloads t
  left join oidc_payloads g on g.model = 'Grant' and g.id = t.grant_id and (g.expires_at is null or g.expires_at > now())
  left join users u on u.id = t.payload->>'accountId' and u.suspended_at is null
  where t.model = $1 and t.id = $2 and (t.expires_at is null or t.expires_at > now())`;

// The lookups every interaction and session makes (several per sign-in), prepared like the
// read-ahead: knex's query building and PostgreSQL's planning cost more than the lookup itself.
const LIVE_ROW = `select id, payload, consumed_at from oidc_payloads
  where model = $1 and (expires_at is null or expires_at > now())`;
const FIND_BY_ID = { name: 'gatehouse_find_by_id', text: `${LIVE_ROW} and id = $2` };
const FIND_BY_UID = { name: 'gatehouse_find_by_uid', text: `${LIVE_ROW} and uid = $2` };
const FIND_BY_USER_CODE = { name: 'gatehouse_find_by_user_code', text: `${LIVE_ROW} and user_code = $2` };
const DESTROY = { name: 'gatehouse_destroy', text: 'delete from oidc_payloads where model = $1 and id = $2' };

interface ReadAheadRow extends PayloadRow {
  grant_payload: Record<string, unknown> | null;
  grant_consumed_at: Date | null;
  account: Record<string, unknown> | null;
}

export class KnexAdapter implements Adapter {
  private readonly model: string;
  private readonly db: Db;
  private readonly protection: ArtefactProtection;

  constructor(model: string, db: Db, protection: ArtefactProtection) {
    this.model = model;
    this.db = db;
    this.protection = protection;
  }

  /** The live row of this model whose `column` (the statement's $2) is `value`. */
  private async liveRow(statement: { name: string; text: string }, value: string): Promise<PayloadRow | undefined> {
    const result = await preparedStatementsFor(this.db).query(statement.name, statement.text, [this.model, value]);
    return result.rows[0] as unknown as PayloadRow | undefined;
  }

  private toPayload(row: PayloadRow | undefined, value?: string): AdapterPayload | undefined {
    if (!row) return undefined;
    let payload: AdapterPayload;
    try {
      payload = this.protection.reveal(this.model, row.id, row.payload, value);
    } catch (error) {
      // Sealed under a key no longer in the ring: this artefact cannot be used any more.
      if (!(error instanceof SealedSecretError)) throw error;
      logger.warn('artefact does not open; treated as gone', { model: this.model, problem: error.problem });
      return undefined;
    }
    return row.consumed_at ? { ...payload, consumed: epoch(row.consumed_at) } : payload;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    // Request parameters end up in payloads (state, nonce, …); a NUL among them is bad input.
    if (containsNul(payload) || containsNul(id)) throw new errors.InvalidRequest('request contains a NUL character');
    const storedId = artefactDigest(id);
    const row = {
      model: this.model,
      id: storedId,
      payload: JSON.stringify(this.protection.protect(this.model, storedId, payload)),
      grantId: payload.grantId ? artefactDigest(payload.grantId) : null,
      userCode: payload.userCode ? artefactDigest(payload.userCode) : null,
      uid: payload.uid ?? null,
      expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      insertOnly: INSERT_ONLY_MODELS.has(this.model),
    };
    // The replacement of a rotated refresh token: written with the old one's consume (singleUse.ts).
    const rotated = ROTATED_MODELS.has(this.model) ? rotatedBy(this.model) : undefined;
    if (rotated) return consumeOnce(this.db, this.model, rotated, row);
    // Every artefact is written through the database's one writer, which commits rows that
    // arrive together in one statement (see payloadWriter.ts).
    await payloadWriterFor(this.db).write(row);
  }

  // Lookups by a value the client sent: one with a NUL cannot exist, so nothing is found.
  async find(id: string): Promise<AdapterPayload | undefined> {
    if (containsNul(id)) return undefined;
    const storedId = artefactDigest(id);
    if (READ_AHEAD_MODELS.has(this.model) && inReadAheadScope()) return this.toPayload(await this.findReadingAhead(storedId), id);
    if (this.model === 'Grant') {
      const setAsideRow = takeSetAside<PayloadRow>(grantKey(storedId));
      if (setAsideRow !== undefined) return this.toPayload(setAsideRow ?? undefined, id);
    }
    return this.toPayload(await this.liveRow(FIND_BY_ID, storedId), id);
  }

  /** The token's row; its grant's and account's rows are set aside for this request. */
  private async findReadingAhead(storedId: string): Promise<PayloadRow | undefined> {
    const result = await preparedStatementsFor(this.db).query(READ_AHEAD_STATEMENT, READ_AHEAD_SQL, [this.model, storedId]);
    const row = result.rows[0] as unknown as ReadAheadRow | undefined;
    if (!row) return undefined;
    const grantStoredId = row.payload.grantId ? artefactDigest(row.payload.grantId as string) : undefined;
    if (grantStoredId) {
      const grant = row.grant_payload && { id: grantStoredId, payload: row.grant_payload, consumed_at: row.grant_consumed_at };
      setAside(grantKey(grantStoredId), grant);
    }
    if (typeof row.payload.accountId === 'string') setAside(accountKey(row.payload.accountId), row.account);
    return row;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    if (containsNul(userCode)) return undefined;
    const payload = this.toPayload(await this.liveRow(FIND_BY_USER_CODE, artefactDigest(userCode)));
    // The row was found by this very code; oidc-provider compares it with the payload's.
    return payload && { ...payload, userCode };
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (containsNul(uid)) return undefined;
    return this.toPayload(await this.liveRow(FIND_BY_UID, uid));
  }

  /** Only one caller can consume a row; the others are answered as replays (see singleUse.ts). */
  async consume(id: string): Promise<void> {
    const storedId = artefactDigest(id);
    // In a provider request the consume of a refresh token waits for its replacement's save, which
    // oidc-provider makes next (the only place it consumes one): until then nothing is consumed,
    // so a caller that went on without saving a replacement would leave the token usable.
    if (ROTATED_MODELS.has(this.model) && consumeWithReplacement(this.model, storedId)) return;
    await consumeOnce(this.db, this.model, storedId);
  }

  async destroy(id: string): Promise<void> {
    await preparedStatementsFor(this.db).query(DESTROY.name, DESTROY.text, [this.model, artefactDigest(id)]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db('oidc_payloads')
      .where({ model: this.model, grant_id: artefactDigest(grantId) })
      .delete();
  }
}

/** The adapter factory handed to oidc-provider: Client gets the clients table, the rest one table. */
export function knexAdapterFactory(db: Db, clients: ClientStore, box: SecretBox) {
  const protection = new ArtefactProtection(box);
  return (model: string): Adapter => (model === 'Client' ? clients.adapter : new KnexAdapter(model, db, protection));
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
