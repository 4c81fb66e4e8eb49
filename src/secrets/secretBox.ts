// Encrypts secrets at rest (signing keys, cookie keys, symmetric client secrets) with keys
// derived from SECRET_KEY. AES-256-GCM authenticates as well as hides: a tampered row fails to
// open instead of yielding a wrong key.
//
// Sealed format v2 is `v2.<key id>.<iv>.<tag>.<data>`. The key id names the SECRET_KEY that
// sealed the value (a one-way fingerprint of it, never the key), so a keyring of SECRET_KEY and
// SECRET_KEY_PREVIOUS knows which key to open with and `secrets rotate` knows what to re-seal.
// The associated data binds the value to where it lives (table, row id, purpose): a value
// copied into another row, or from a signing key into a cookie key, does not open there.
// Format v1 (`v1.<iv>.<tag>.<data>`, no key id, no associated data) is what databases made
// before this hold; it still opens with any key of the ring until `secrets rotate` re-seals it.
import { createCipheriv, createDecipheriv, hash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const LEGACY_VERSION = 'v1';
const VERSION = 'v2';
// Table and purpose are fixed names in the code; only the row id varies, so `table:row:purpose`
// reads back unambiguously even when the row id holds a colon.
const NAME = /^[a-z_]+$/;

/** Where a sealed value lives; it opens only in the same place. */
export interface SealContext {
  table: string;
  rowId: string;
  purpose: string;
}

export type SealedSecretProblem = 'malformed' | 'unknown-key' | 'not-authentic';

/** A sealed value that does not open. Names where it lives, never what it holds. */
export class SealedSecretError extends Error {
  readonly problem: SealedSecretProblem;
  readonly place: string;
  /** The key id the value names (format v2), when it names one. */
  readonly keyId: string | undefined;
  constructor(problem: SealedSecretProblem, place: string, keyId?: string) {
    super(
      problem === 'malformed'
        ? `The sealed secret of ${place} is not in a format Gatehouse knows`
        : problem === 'unknown-key'
          ? `The sealed secret of ${place} was sealed with a key ${keyId ? `(key id ${keyId}) ` : ''}that is neither SECRET_KEY nor SECRET_KEY_PREVIOUS`
          : `The sealed secret of ${place} does not open: it was sealed for another row or purpose, or it was altered`,
    );
    this.name = 'SealedSecretError';
    this.problem = problem;
    this.place = place;
    this.keyId = keyId;
  }
}

export interface SecretBox {
  /** Id of the key that seals (SECRET_KEY). */
  readonly currentKeyId: string;
  /** Ids of the keys that still open (SECRET_KEY_PREVIOUS). */
  readonly previousKeyIds: readonly string[];
  seal(plain: string, context: SealContext): string;
  open(sealed: string, context: SealContext): string;
  /** The key id a sealed value names; undefined for format v1 (and for what is not sealed). */
  keyIdOf(sealed: string): string | undefined;
  /** True unless the value is format v2 sealed with the current key. */
  needsReseal(sealed: string): boolean;
  /**
   * A 32-byte key for one purpose, derived from the current SECRET_KEY (HKDF, so it reveals
   * nothing about SECRET_KEY or about the keys of other purposes). It changes when SECRET_KEY
   * changes; `derivedKeys` also gives the previous keys' versions, for look-ups during a rotation.
   */
  deriveKey(purpose: string): Buffer;
  /** The purpose's key under the current SECRET_KEY first, then under each previous one. */
  derivedKeys(purpose: string): Buffer[];
}

interface RingKey {
  id: string;
  secret: string;
  aes: Buffer;
}

function ringKey(secret: string): RingKey {
  return {
    id: Buffer.from(hkdfSync('sha256', secret, 'gatehouse', 'secret-key-id', 9)).toString('base64url'),
    secret,
    // The same derivation as format v1, so v1 values open with the key that sealed them.
    aes: Buffer.from(hkdfSync('sha256', secret, 'gatehouse', 'secrets-at-rest', 32)),
  };
}

/** The key id of a SECRET_KEY, as sealed values name it. */
export function secretKeyId(secretKey: string): string {
  return ringKey(secretKey).id;
}

export function describePlace(context: SealContext): string {
  if (!NAME.test(context.table) || !NAME.test(context.purpose)) throw new Error(`Invalid seal context ${context.table}/${context.purpose}`);
  return `${context.table}:${context.rowId}:${context.purpose}`;
}

const associatedData = (keyId: string, context: SealContext) => Buffer.from(`${VERSION}.${keyId}|${describePlace(context)}`, 'utf8');

function decrypt(key: Buffer, iv: string, tag: string, data: string, aad?: Buffer): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  if (aad) decipher.setAAD(aad);
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
}

function keyIdOf(sealed: string): string | undefined {
  const parts = sealed.split('.');
  return parts[0] === VERSION && parts.length === 5 ? parts[1] : undefined;
}

/**
 * A box over a keyring: seals with `currentKey` (SECRET_KEY), opens with it or any of
 * `previousKeys` (SECRET_KEY_PREVIOUS).
 */
export function createSecretBox(currentKey: string, previousKeys: readonly string[] = []): SecretBox {
  const current = ringKey(currentKey);
  const previous = previousKeys.filter((k) => k !== currentKey).map(ringKey);
  const ring = [current, ...previous];
  const byId = new Map(ring.map((k) => [k.id, k]));
  const derive = (secret: string, purpose: string) => Buffer.from(hkdfSync('sha256', secret, 'gatehouse', `derived:${purpose}`, 32));

  return {
    currentKeyId: current.id,
    previousKeyIds: previous.map((k) => k.id),
    seal(plain, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.aes, iv);
      cipher.setAAD(associatedData(current.id, context));
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [VERSION, current.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join(
        '.',
      );
    },
    open(sealed, context) {
      const place = describePlace(context);
      const parts = sealed.split('.');
      if (parts[0] === VERSION && parts.length === 5 && parts[1] && parts[2] && parts[3]) {
        const [, keyId, iv, tag, data] = parts;
        const key = byId.get(keyId);
        if (!key) throw new SealedSecretError('unknown-key', place, keyId);
        try {
          return decrypt(key.aes, iv, tag, data, associatedData(keyId, context));
        } catch {
          throw new SealedSecretError('not-authentic', place, keyId);
        }
      }
      if (parts[0] === LEGACY_VERSION && parts.length === 4 && parts[1] && parts[2]) {
        // No key id: the key that opens it is the one that sealed it.
        for (const key of ring) {
          try {
            return decrypt(key.aes, parts[1], parts[2], parts[3]);
          } catch {}
        }
        throw new SealedSecretError('unknown-key', place);
      }
      throw new SealedSecretError('malformed', place);
    },
    keyIdOf,
    needsReseal: (sealed) => keyIdOf(sealed) !== current.id,
    deriveKey: (purpose) => derive(current.secret, purpose),
    derivedKeys: (purpose) => ring.map((k) => derive(k.secret, purpose)),
  };
}

/** Digest for high-entropy secrets that are only ever compared (client secrets, tokens). */
export function sha256(value: string): string {
  return hash('sha256', value, 'hex');
}

/** True when `value` hashes to the hex `digest`, compared in constant time. */
export function matchesSha256(digest: string, value: string): boolean {
  // Runs on every token request of a confidential client: one hash, no string building.
  const expected = Buffer.from(digest, 'hex');
  const actual = hash('sha256', value, 'buffer');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export function constantTimeEqual(a: string, b: string): boolean {
  // Compare fixed-length digests so neither length nor content leaks through timing.
  return timingSafeEqual(hash('sha256', a, 'buffer'), hash('sha256', b, 'buffer'));
}
