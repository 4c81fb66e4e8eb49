// Signing and cookie keys, shared by every instance through the database and encrypted at rest.
// The first start creates one current key per algorithm; rotation retires the current key but
// keeps it published (or accepted, for cookies) until what it signed has expired.
import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Db } from '../db/index.ts';
import type { SealContext, SecretBox } from '../secrets/secretBox.ts';
import type { SealedColumn } from '../secrets/sealedColumns.ts';

export const SIGNING_ALGS = ['RS256', 'ES256', 'PS256'] as const;
/** How often every instance looks for rotated keys. */
export const KEY_RELOAD_INTERVAL_SECONDS = 30;
export type SigningAlg = (typeof SIGNING_ALGS)[number];
// Generated on first start. PS256 shares an RSA key shape and is produced on demand by rotation.
const DEFAULT_ALGS: SigningAlg[] = ['RS256', 'ES256'];

export interface KeyMaterial {
  /** Private JWKs, current keys first: oidc-provider signs with the first key of an alg. */
  signing: JWK[];
  /** Cookie signing keys, current first: the first signs, all verify. */
  cookie: string[];
  /** Changes whenever the set of keys changes, so instances notice a rotation. */
  fingerprint: string;
}

interface KeyRow {
  kid: string;
  kind: 'signing' | 'cookie';
  alg: string | null;
  secret: string;
  state: 'current' | 'retired';
  created_at: Date;
}

export interface KeyRotationResult {
  /** When the new keys start signing. */
  activatesAt: Date;
  created: { kid: string; kind: string; alg: string | null }[];
  retired: { kid: string; kind: string; alg: string | null; expiresAt: Date }[];
}

// A key's secret opens only as that row's key of that kind: a signing key copied over a cookie
// key's row (or another signing key's) is refused instead of being used.
const keySealContext = (kid: string, kind: string): SealContext => ({ table: 'keys', rowId: kid, purpose: kind });

/** Where keys keep their sealed secrets, for `secrets rotate` and the start-up check. */
export const SEALED_KEY_SECRETS: SealedColumn = {
  table: 'keys',
  idColumn: 'kid',
  column: 'secret',
  extraColumns: ['kind'],
  context: (row) => keySealContext(row.kid, row.kind),
};

async function newSigningKey(alg: SigningAlg): Promise<{ kid: string; jwk: JWK }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'ES256' ? {} : { modulusLength: 2048 }) });
  const jwk = await exportJWK(privateKey);
  const kid = randomUUID();
  return { kid, jwk: { ...jwk, kid, alg, use: 'sig' } };
}

/** Keys that live only in memory, for work that needs a provider but must not create keys. */
export async function ephemeralKeys(): Promise<KeyMaterial> {
  const signing = await Promise.all(DEFAULT_ALGS.map(async (alg) => (await newSigningKey(alg)).jwk));
  return { signing, cookie: [randomBytes(32).toString('base64url')], fingerprint: 'ephemeral' };
}

/** Creates the current keys that are missing. Safe when several instances start at once. */
export async function ensureKeys(db: Db, box: SecretBox, algs: SigningAlg[] = DEFAULT_ALGS): Promise<void> {
  const current = await db<KeyRow>('keys').where({ state: 'current' }).select('kind', 'alg');
  const has = (kind: string, alg: string | null) => current.some((k) => k.kind === kind && k.alg === alg);
  const rows = [];
  for (const alg of algs) {
    if (has('signing', alg)) continue;
    const { kid, jwk } = await newSigningKey(alg);
    rows.push({ kid, kind: 'signing', alg, secret: box.seal(JSON.stringify(jwk), keySealContext(kid, 'signing')), state: 'current' });
  }
  if (!has('cookie', null)) {
    const kid = randomUUID();
    rows.push({
      kid,
      kind: 'cookie',
      alg: null,
      secret: box.seal(randomBytes(32).toString('base64url'), keySealContext(kid, 'cookie')),
      state: 'current',
    });
  }
  // The partial unique index allows one current key per (kind, alg): a racing instance's insert
  // is dropped and everyone loads the same winner.
  for (const row of rows) {
    await db.raw(
      `insert into keys (kid, kind, alg, secret, state) values (?, ?, ?, ?, ?)
       on conflict (kind, coalesce(alg, '')) where state = 'current' do nothing`,
      [row.kid, row.kind, row.alg, row.secret, row.state],
    );
  }
}

// Keys still in use, in the order oidc-provider needs: for each algorithm the newest key that has
// become active comes first and signs; keys waiting to become active are published after it,
// and retired ones stay published until their retention ends. Computed against the database's
// clock, so the order (and the fingerprint) changes by itself when a new key becomes active.
function keysInUse(db: Db) {
  return db<KeyRow>('keys')
    .where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', db.fn.now()))
    .orderByRaw('case when activates_at <= now() then 0 else 1 end, activates_at desc, created_at desc');
}

export async function loadKeys(db: Db, box: SecretBox): Promise<KeyMaterial> {
  const rows = await keysInUse(db);
  return {
    signing: rows.filter((r) => r.kind === 'signing').map((r) => JSON.parse(box.open(r.secret, keySealContext(r.kid, r.kind))) as JWK),
    cookie: rows.filter((r) => r.kind === 'cookie').map((r) => box.open(r.secret, keySealContext(r.kid, r.kind))),
    fingerprint: rows.map((r) => r.kid).join(','),
  };
}

export async function keysFingerprint(db: Db): Promise<string> {
  const rows = await keysInUse(db).select('kid');
  return rows.map((r: { kid: string }) => r.kid).join(',');
}

export interface RotationPolicy {
  /** How long a retired signing key stays published: the longest lifetime of what it signed. */
  signingRetentionSeconds: number;
  /** How long a retired cookie key keeps verifying: the session lifetime. */
  cookieRetentionSeconds: number;
  /**
   * How long new keys are published before they sign, so that every instance (each reloads its
   * keys every 30 s) shows them in JWKS first. 0 where a single process serves.
   */
  activationDelaySeconds: number;
}

/**
 * Replaces every current key with a fresh one, active after the policy's delay. Until then the
 * retired key keeps signing; after it, the retired key stays published for its retention.
 */
export async function rotateKeys(db: Db, box: SecretBox, policy: RotationPolicy, algs?: SigningAlg[]): Promise<KeyRotationResult> {
  return db.transaction(async (trx) => {
    const current = await trx<KeyRow>('keys').where({ state: 'current' }).forUpdate();
    const signingAlgs = algs ?? [
      ...new Set([...DEFAULT_ALGS, ...current.filter((k) => k.kind === 'signing').map((k) => k.alg as SigningAlg)]),
    ];
    const result: KeyRotationResult = {
      created: [],
      retired: [],
      activatesAt: new Date(Date.now() + policy.activationDelaySeconds * 1000),
    };
    const activatesAt = result.activatesAt;
    for (const row of current) {
      if (row.kind === 'signing' && !signingAlgs.includes(row.alg as SigningAlg)) continue;
      const seconds = row.kind === 'signing' ? policy.signingRetentionSeconds : policy.cookieRetentionSeconds;
      const expiresAt = new Date(activatesAt.getTime() + seconds * 1000);
      await trx('keys').where({ kid: row.kid }).update({ state: 'retired', retired_at: trx.fn.now(), expires_at: expiresAt });
      result.retired.push({ kid: row.kid, kind: row.kind, alg: row.alg, expiresAt });
    }
    for (const alg of signingAlgs) {
      const { kid, jwk } = await newSigningKey(alg);
      await trx('keys').insert({
        kid,
        kind: 'signing',
        alg,
        secret: box.seal(JSON.stringify(jwk), keySealContext(kid, 'signing')),
        state: 'current',
        activates_at: activatesAt,
      });
      result.created.push({ kid, kind: 'signing', alg });
    }
    const cookieKid = randomUUID();
    await trx('keys').insert({
      kid: cookieKid,
      kind: 'cookie',
      alg: null,
      secret: box.seal(randomBytes(32).toString('base64url'), keySealContext(cookieKid, 'cookie')),
      state: 'current',
      activates_at: activatesAt,
    });
    result.created.push({ kid: cookieKid, kind: 'cookie', alg: null });
    return result;
  });
}

/** Deletes keys whose retention has passed. */
export async function sweepExpiredKeys(db: Db): Promise<number> {
  return db('keys').where('state', 'retired').andWhere('expires_at', '<=', db.fn.now()).delete();
}
