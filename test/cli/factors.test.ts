// The operator's view of second factors at the CLI: `users show` lists what a user holds (never a
// secret), `users reset-factors` removes them for someone who lost them (audited, one event), and
// `clients create --require-mfa` makes every sign-in to a client take a second factor.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { loadConfig } from '../../src/config.ts';
import { commandContext, type CommandContext } from '../../src/cli/context.ts';
import { runCommand } from '../../src/cli/run.ts';
import { TEST_SECRET_KEY } from '../helpers/server.ts';
import { operator } from '../helpers/fixtures.ts';
import { createUser } from '../../src/accounts/index.ts';
import { generateRecoveryCodes } from '../../src/mfa/recoveryCodes.ts';
import { startTotpEnrolment } from '../../src/mfa/totp.ts';

describe('gatehouse CLI: second factors', () => {
  let database: TestDatabase;
  let ctx: CommandContext;

  before(async () => {
    database = await createTestDatabase();
    const config = loadConfig({
      NODE_ENV: 'test',
      ISSUER: 'http://gatehouse.test',
      SECRET_KEY: TEST_SECRET_KEY,
      BCRYPT_COST: '4',
      DATA_DIR: '/nonexistent-test-data-dir',
    });
    ctx = commandContext(config, database);
  });

  after(async () => {
    await database?.dispose();
  });

  async function json<T = Record<string, unknown>>(...argv: string[]): Promise<T> {
    const outcome = await runCommand(ctx, [...argv, '--json']);
    assert.equal(outcome.exitCode, 0, `${argv.join(' ')}: ${outcome.stdout}${outcome.stderr}`);
    return JSON.parse(outcome.stdout) as T;
  }

  it('shows what factors a user holds, and resets them for an owner who lost them', async () => {
    const user = await createUser(
      operator(database),
      { email: 'uma@example.com', password: 'a passphrase of hers', email_verified: true },
      4,
    );
    await generateRecoveryCodes(operator(database), { box: ctx.box }, user.id);
    await startTotpEnrolment(operator(database), { box: ctx.box }, user.id, { accountName: user.email, issuer: 'Gatehouse' });
    const shown = await json<{ factors: Record<string, unknown> }>('users', 'show', 'uma@example.com');
    assert.deepEqual(
      shown.factors,
      { totp: false, passkeys: 0, recovery_codes_remaining: 10, known_devices: 0 },
      'a pending authenticator is not a factor',
    );

    const reset = await json('users', 'reset-factors', user.id);
    assert.deepEqual(reset, { id: user.id, removed: { passkeys: 0, totp_factors: 1, recovery_codes: 10, known_devices: 0 } });
    assert.deepEqual((await json<{ factors: Record<string, unknown> }>('users', 'show', user.id)).factors, {
      totp: false,
      passkeys: 0,
      recovery_codes_remaining: 0,
      known_devices: 0,
    });
    const events = await database.db('domain_events').where({ subject: user.id, type: 'gatehouse.user.factors_reset' });
    assert.equal(events.length, 1);
    const audited = await database.db('audit_events').where({ user_id: user.id, type: 'user.factors_reset' });
    assert.equal(audited.length, 1);
  });

  it('names an unknown user and changes nothing', async () => {
    const outcome = await runCommand(ctx, ['users', 'reset-factors', 'nobody@example.com']);
    assert.equal(outcome.exitCode, 1);
    assert.match(outcome.stderr, /nobody@example.com/);
  });

  it('registers a client that requires a second factor', async () => {
    const created = await json<{ client_id: string; require_mfa: boolean }>(
      'clients',
      'create',
      '--name',
      'Bank',
      '--redirect-uri',
      'https://bank.example/callback',
      '--require-mfa',
    );
    assert.equal(created.require_mfa, true);
    const row = await database.db('clients').where('client_id', created.client_id).first('require_mfa');
    assert.equal(row.require_mfa, true);
    const plain = await json<{ require_mfa: boolean }>(
      'clients',
      'create',
      '--name',
      'Shop',
      '--redirect-uri',
      'https://shop.example/callback',
    );
    assert.equal(plain.require_mfa, false);
  });
});
