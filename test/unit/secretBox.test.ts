// The sealed format: bound to its row and purpose, names the key that sealed it, opens with the
// previous key during a rotation, and still opens what databases made before it hold (v1).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretBox, SealedSecretError, secretKeyId, type SealContext } from '../../src/secrets/secretBox.ts';
import { legacySeal } from '../helpers/legacySeal.ts';

const KEY_A = 'a'.repeat(20) + '-first-secret-key-for-tests';
const KEY_B = 'b'.repeat(20) + '-second-secret-key-for-tests';
const KEY_C = 'c'.repeat(20) + '-unrelated-secret-key-for-tests';
const SIGNING: SealContext = { table: 'keys', rowId: 'kid-1', purpose: 'signing' };

function refusal(problem: string, message: string) {
  return (error: unknown) => error instanceof SealedSecretError && error.problem === problem && error.message === message;
}

describe('secret box', () => {
  const box = createSecretBox(KEY_A);

  it('seals in format v2 naming its key, and opens in the same place', () => {
    const sealed = box.seal('{"d":"private"}', SIGNING);
    assert.match(sealed, /^v2\.[\w-]{12}\.[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(box.keyIdOf(sealed), secretKeyId(KEY_A));
    assert.equal(box.currentKeyId, secretKeyId(KEY_A));
    assert.ok(!sealed.includes('private'));
    assert.equal(box.open(sealed, SIGNING), '{"d":"private"}');
    assert.equal(box.open(box.seal('', SIGNING), SIGNING), '', 'an empty value round-trips too');
    assert.equal(box.needsReseal(sealed), false);
  });

  it('does not open a value copied into another row, table or purpose', () => {
    const sealed = box.seal('secret', SIGNING);
    for (const [place, context] of [
      ['keys:kid-2:signing', { ...SIGNING, rowId: 'kid-2' }],
      ['keys:kid-1:cookie', { ...SIGNING, purpose: 'cookie' }],
      ['clients:kid-1:signing', { ...SIGNING, table: 'clients' }],
    ] as const) {
      assert.throws(
        () => box.open(sealed, context),
        refusal(
          'not-authentic',
          `The sealed secret of ${place} does not open: it was sealed for another row or purpose, or it was altered`,
        ),
      );
    }
  });

  it('does not open an altered value', () => {
    const parts = box.seal('secret value', SIGNING).split('.');
    const data = Buffer.from(parts[4], 'base64url');
    data[0] ^= 1;
    parts[4] = data.toString('base64url');
    assert.throws(
      () => box.open(parts.join('.'), SIGNING),
      refusal(
        'not-authentic',
        `The sealed secret of keys:kid-1:signing does not open: it was sealed for another row or purpose, or it was altered`,
      ),
    );
    // Pointing the header at another key of the ring does not help either.
    const ring = createSecretBox(KEY_A, [KEY_B]);
    const forged = ring.seal('secret', SIGNING).replace(secretKeyId(KEY_A), secretKeyId(KEY_B));
    assert.throws(
      () => ring.open(forged, SIGNING),
      refusal(
        'not-authentic',
        `The sealed secret of keys:kid-1:signing does not open: it was sealed for another row or purpose, or it was altered`,
      ),
    );
  });

  it('names a key it does not hold, and what it cannot parse', () => {
    const foreign = createSecretBox(KEY_C).seal('secret', SIGNING);
    assert.throws(
      () => box.open(foreign, SIGNING),
      refusal(
        'unknown-key',
        `The sealed secret of keys:kid-1:signing was sealed with a key (key id ${secretKeyId(KEY_C)}) that is neither SECRET_KEY nor SECRET_KEY_PREVIOUS`,
      ),
    );
    for (const junk of ['', 'plain text', 'v2.only.three', 'v3.a.b.c.d', 'v1.a']) {
      assert.throws(
        () => box.open(junk, SIGNING),
        refusal('malformed', 'The sealed secret of keys:kid-1:signing is not in a format Gatehouse knows'),
      );
    }
  });

  it('seals with the current key and opens with the current or the previous one', () => {
    const old = createSecretBox(KEY_A).seal('old secret', SIGNING);
    const ring = createSecretBox(KEY_B, [KEY_A]);
    assert.deepEqual(ring.previousKeyIds, [secretKeyId(KEY_A)]);
    assert.equal(ring.open(old, SIGNING), 'old secret');
    assert.equal(ring.needsReseal(old), true);
    const fresh = ring.seal('new secret', SIGNING);
    assert.equal(ring.keyIdOf(fresh), secretKeyId(KEY_B));
    assert.equal(ring.needsReseal(fresh), false);
    // Once the previous key is gone, only what the new key sealed opens.
    const after = createSecretBox(KEY_B);
    assert.equal(after.open(fresh, SIGNING), 'new secret');
    assert.throws(
      () => after.open(old, SIGNING),
      refusal(
        'unknown-key',
        `The sealed secret of keys:kid-1:signing was sealed with a key (key id ${secretKeyId(KEY_A)}) that is neither SECRET_KEY nor SECRET_KEY_PREVIOUS`,
      ),
    );
  });

  it('opens format v1 values (no key id, no associated data) with whichever key of the ring sealed them', () => {
    const v1 = legacySeal(KEY_A, 'from an existing database');
    assert.equal(createSecretBox(KEY_A).open(v1, SIGNING), 'from an existing database');
    assert.equal(createSecretBox(KEY_B, [KEY_A]).open(v1, SIGNING), 'from an existing database');
    assert.equal(box.keyIdOf(v1), undefined);
    assert.equal(box.needsReseal(v1), true);
    assert.throws(
      () => createSecretBox(KEY_C).open(v1, SIGNING),
      refusal(
        'unknown-key',
        'The sealed secret of keys:kid-1:signing was sealed with a key that is neither SECRET_KEY nor SECRET_KEY_PREVIOUS',
      ),
    );
  });

  it('derives one key per purpose from the current SECRET_KEY, and the previous keys’ versions on request', () => {
    const a = box.deriveKey('artefact-ids');
    assert.equal(a.length, 32);
    assert.deepEqual(createSecretBox(KEY_A).deriveKey('artefact-ids'), a, 'stable across instances and restarts');
    assert.notDeepEqual(box.deriveKey('other-purpose'), a);
    const ring = createSecretBox(KEY_B, [KEY_A]);
    assert.notDeepEqual(ring.deriveKey('artefact-ids'), a, 'a new SECRET_KEY derives new keys');
    assert.deepEqual(ring.derivedKeys('artefact-ids'), [ring.deriveKey('artefact-ids'), a]);
  });

  it('gives a key id that is a fingerprint, not the key', () => {
    const id = secretKeyId(KEY_A);
    assert.match(id, /^[\w-]{12}$/);
    assert.notEqual(id, secretKeyId(KEY_B));
    assert.ok(!KEY_A.includes(id));
  });
});
