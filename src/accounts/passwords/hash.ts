// Password hashes as stored in users.password_hash. Two formats verify:
//
//   $gh1$<bcrypt>       current: bcrypt of base64(HMAC-SHA-256(PRE_HASH_KEY, password)).
//   $2a$ / $2b$ / $2y$  legacy: bcrypt of the password itself. Hashes made before $gh1$, and the
//                       ones `users create --password-hash` imports from other systems.
//
// bcrypt reads at most 72 bytes and stops at a NUL, so on its own it would ignore the tail of a
// long password. The pre-hash turns any password into 44 base64 characters (no NUL), so bcrypt
// sees all of it: a 1,000-character passphrase differs from its first 72 bytes.
//
// The HMAC key is a fixed, public, versioned label, not SECRET_KEY. It is no pepper and adds no
// secrecy: it only feeds the whole password into bcrypt. A pepper tied to SECRET_KEY would lock
// out every user whose hash was made under a key once `gatehouse secrets rotate` drops
// SECRET_KEY_PREVIOUS. Using HMAC with our own label instead of a bare SHA-256 keeps the inner
// value unique to Gatehouse, so leaked unsalted SHA-256 dumps from other sites cannot be matched
// against it to skip bcrypt ("password shucking").
//
// Passwords are hashed as typed (their UTF-8 bytes), not Unicode-normalised: a hash then depends
// on the bytes alone, never on the Unicode tables of the Node version that made it (normalisation
// of characters a newer Unicode version assigns changes), and both formats agree on what a
// password is, so a legacy or imported hash, made elsewhere from the bytes as typed, still verifies.
// A keyboard sends the same bytes for the same keys each time.
import { createHmac, randomUUID } from 'node:crypto';
import bcrypt from 'bcrypt';
import { z } from 'zod';

const CURRENT_PREFIX = '$gh1$';
const PRE_HASH_KEY = 'gatehouse password pre-hash v1';
const BCRYPT_MAX_BYTES = 72;

// bcrypt's modular crypt format: variant, two-digit cost, then 22 characters of salt and 31 of
// hash in bcrypt's base64 alphabet.
const BCRYPT_HASH = /^\$(2[aby])\$(\d{2})\$[./A-Za-z0-9]{53}$/;
const MIN_COST = 4;
const MAX_COST = 31;

interface StoredHash {
  format: 'current' | 'legacy';
  /** The bcrypt part, as node's bcrypt reads it. */
  bcryptHash: string;
  cost: number;
}

function parseStoredHash(stored: string): StoredHash | undefined {
  const current = stored.startsWith(CURRENT_PREFIX);
  const inner = current ? stored.slice(CURRENT_PREFIX.length) : stored;
  const shape = BCRYPT_HASH.exec(inner);
  if (!shape) return undefined;
  // $2y$ is PHP's name for the same algorithm as $2b$; node's bcrypt reads only $2a$ and $2b$.
  const bcryptHash = shape[1] === '2y' ? `$2b$${inner.slice(4)}` : inner;
  return { format: current ? 'current' : 'legacy', bcryptHash, cost: Number(shape[2]) };
}

function preHash(plain: string): string {
  return createHmac('sha256', PRE_HASH_KEY).update(plain, 'utf8').digest('base64');
}

/** A new hash, in the current format. */
export async function hashPassword(plain: string, cost: number): Promise<string> {
  return CURRENT_PREFIX + (await bcrypt.hash(preHash(plain), cost));
}

// A legacy hash saw at most 72 bytes, up to any NUL (in most implementations): a longer password,
// or one with a NUL, could only match on a part of it, so it never matches.
function legacyComparable(plain: string): boolean {
  return Buffer.byteLength(plain) <= BCRYPT_MAX_BYTES && !plain.includes('\0');
}

/** Whether `plain` is the password of `stored` (either format). A wrong password costs as long as a right one. */
export async function verifyPasswordHash(plain: string, stored: string): Promise<boolean> {
  const parsed = parseStoredHash(stored);
  if (!parsed) return false;
  if (parsed.format === 'current') return bcrypt.compare(preHash(plain), parsed.bcryptHash);
  if (!legacyComparable(plain)) {
    // As slow as a real comparison, so the answer does not tell a refused password from a wrong one.
    await bcrypt.compare(preHash(plain), parsed.bcryptHash);
    return false;
  }
  return bcrypt.compare(plain, parsed.bcryptHash);
}

/** Whether a hash that just verified should be replaced by a new one: an older format or another cost. */
export function needsRehash(stored: string, cost: number): boolean {
  const parsed = parseStoredHash(stored);
  return parsed?.format !== 'current' || parsed.cost !== cost;
}

// One decoy hash per cost: after BCRYPT_COST changes, an unknown email is compared at the new
// cost, as a known one is once its hash is renewed at sign-in.
const decoys = new Map<number, Promise<string>>();

/**
 * Spends the time of verifying a password at `cost`, for an email with no account (or no
 * password), so timing does not tell who has one. The first call per cost also makes its decoy.
 */
export async function decoyCompare(plain: string, cost: number): Promise<void> {
  let decoy = decoys.get(cost);
  if (!decoy) {
    decoy = hashPassword(randomUUID(), cost);
    decoys.set(cost, decoy);
    decoy.catch(() => decoys.delete(cost));
  }
  await verifyPasswordHash(plain, await decoy);
}

/** Why `hash` cannot be imported as a user's password hash, or undefined when it can. */
export function importedHashProblem(hash: string): string | undefined {
  if (!/^\$2[aby]\$/.test(hash)) return 'Password hash must be a bcrypt hash starting with $2a$, $2b$ or $2y$';
  const shape = BCRYPT_HASH.exec(hash);
  if (!shape) return 'Password hash must be $2a$, $2b$ or $2y$, a two-digit cost, $, then 53 characters of ./A-Za-z0-9';
  const cost = Number(shape[2]);
  if (cost < MIN_COST || cost > MAX_COST) return `Password hash cost must be between ${MIN_COST} and ${MAX_COST}`;
  return undefined;
}

/** Whether `hash` is a bcrypt hash that can be imported as it is (it then verifies as a legacy hash). */
export function isImportableHash(hash: string): boolean {
  return importedHashProblem(hash) === undefined;
}

/** A bcrypt hash brought from another system (`users create --password-hash`), stored as it is. */
export const importedPasswordHashSchema = z.string().superRefine((hash, ctx) => {
  const problem = importedHashProblem(hash);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
