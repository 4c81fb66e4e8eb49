// MAIL_FROM: the sender of Gatehouse's mail, by default no-reply at the issuer's host.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.ts';

const SECRET_KEY = 'mail-from-test-secret-key-0123456789-abcdefghijklmnop';

describe('MAIL_FROM', () => {
  it('defaults to Gatehouse at the issuer host', () => {
    assert.equal(loadConfig({ SECRET_KEY, ISSUER: 'https://id.example.com:8443/' }).mailFrom, 'Gatehouse <no-reply@id.example.com>');
    assert.equal(loadConfig({ SECRET_KEY, PORT: '4000' }).mailFrom, 'Gatehouse <no-reply@localhost>');
  });

  it('takes an address, with or without a name', () => {
    assert.equal(loadConfig({ SECRET_KEY, MAIL_FROM: 'accounts@example.com' }).mailFrom, 'accounts@example.com');
    assert.equal(
      loadConfig({ SECRET_KEY, MAIL_FROM: 'Example Accounts <accounts@example.com>' }).mailFrom,
      'Example Accounts <accounts@example.com>',
    );
  });

  for (const bad of ['no-reply', 'Gatehouse <no-reply>', 'a@b.com, c@d.com', 'Name <a@b.com> trailing', 'Line\nBreak <a@b.com>']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => loadConfig({ SECRET_KEY, MAIL_FROM: bad }),
        (error: Error) => {
          assert.ok(error instanceof ConfigError);
          assert.deepEqual(error.problems, [
            'MAIL_FROM: MAIL_FROM must be an email address, optionally with a name: Gatehouse <no-reply@id.example.com>',
          ]);
          return true;
        },
      );
    });
  }
});
