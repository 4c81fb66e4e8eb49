// Encrypts secrets at rest (signing keys, cookie keys, symmetric client secrets) with a key
// derived from SECRET_KEY. AES-256-GCM authenticates as well as hides: a tampered row fails to
// open instead of yielding a wrong key.
import { createCipheriv, createDecipheriv, hash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 'v1';

export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

export function createSecretBox(secretKey: string): SecretBox {
  const key = Buffer.from(hkdfSync('sha256', secretKey, 'gatehouse', 'secrets-at-rest', 32));
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
    },
    open(sealed) {
      const [version, iv, tag, data] = sealed.split('.');
      if (version !== VERSION || !iv || !tag || data === undefined) throw new Error('Unrecognised sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    },
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
