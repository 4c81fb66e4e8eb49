// Cursors for paginated lists: an opaque string that carries the position after which the next
// page starts, signed (HMAC-SHA-256 with a key derived from SECRET_KEY) so that a cursor
// someone altered or made up is refused with 400 instead of silently moving the list.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SecretBox } from '../secrets/secretBox.ts';
import { InvalidInputError } from '../errors/index.ts';

const PURPOSE = 'admin-api-cursor';

export interface CursorCodec {
  encode(list: string, position: unknown): string;
  /** The position a cursor of `list` carries; throws InvalidInputError for anything else. */
  decode<T>(list: string, cursor: string): T;
}

const mac = (key: Buffer, list: string, body: string) => createHmac('sha256', key).update(`${list}.${body}`).digest().subarray(0, 16);

export function cursorCodec(box: SecretBox): CursorCodec {
  return {
    encode(list, position) {
      const body = Buffer.from(JSON.stringify(position)).toString('base64url');
      return `${body}.${mac(box.deriveKey(PURPOSE), list, body).toString('base64url')}`;
    },
    decode<T>(list: string, cursor: string): T {
      const [body, tag, extra] = cursor.split('.');
      const given = Buffer.from(tag ?? '', 'base64url');
      // A cursor made under SECRET_KEY_PREVIOUS still opens during a key rotation.
      const authentic =
        body &&
        extra === undefined &&
        box.derivedKeys(PURPOSE).some((key) => {
          const expected = mac(key, list, body);
          return expected.length === given.length && timingSafeEqual(expected, given);
        });
      if (!authentic)
        throw new InvalidInputError('The cursor is not one this list handed out', [{ path: 'cursor', message: 'not a valid cursor' }]);
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
    },
  };
}
