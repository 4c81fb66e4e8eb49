// Sealed format v1 exactly as Gatehouse wrote it before key ids and associated data, to stand in
// for databases made by earlier versions.
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';

export function legacySeal(secretKey: string, plain: string): string {
  const key = Buffer.from(hkdfSync('sha256', secretKey, 'gatehouse', 'secrets-at-rest', 32));
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
}
