// Importing connections from a file, at the service: an entry is the whole connection, so a
// setting the file no longer has goes back to its default (an operator who removes a restriction
// from the file sees it removed, and one who adds it sees it added); the environment variable an
// entry names holds a SAML connection's private key as it holds any other's client secret.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { operator } from '../helpers/fixtures.ts';
import { encryptedSamlSettings, keyPair } from '../helpers/samlIdp.ts';
import { TEST_SECRET_KEY } from '../helpers/server.ts';
import { getConnection, importConnections } from '../../src/federation/index.ts';
import type { OidcSettings } from '../../src/federation/connections.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import type { InvalidInputError } from '../../src/errors/index.ts';

const box = createSecretBox(TEST_SECRET_KEY);
const TENANT = '11111111-2222-4333-8444-555555555555';

const microsoft = (settings: Record<string, unknown>, secretVariable?: string) => ({
  connections: [
    {
      id: 'entra',
      type: 'oidc',
      display_name: 'Microsoft',
      settings: { preset: 'microsoft', client_id: 'app-id', ...settings },
      ...(secretVariable && { client_secret_env: secretVariable }),
    },
  ],
});

describe('connections import', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.dispose();
  });

  it('replaces the settings of a connection that exists: a setting the file drops takes its default again', async () => {
    const variables = { ENTRA_SECRET: 'entra-secret-value' };
    await importConnections(
      operator(database),
      box,
      microsoft({ tenant: 'organizations', allowed_tenants: [TENANT] }, 'ENTRA_SECRET'),
      variables,
    );
    const first = (await getConnection(database.db, 'entra')).settings as OidcSettings;
    assert.deepEqual([first.tenant, first.allowed_tenants], ['organizations', [TENANT]]);

    const outcome = await importConnections(operator(database), box, microsoft({ scopes: ['openid', 'email'] }), {});
    assert.deepEqual(outcome, { created: [], updated: ['entra'] });
    const second = await getConnection(database.db, 'entra');
    const settings = second.settings as OidcSettings;
    assert.equal(settings.tenant, 'common', 'tenant back to its default');
    assert.equal(settings.allowed_tenants, undefined, 'the restriction the file dropped is gone');
    assert.deepEqual(settings.scopes, ['openid', 'email']);
    assert.equal(second.has_client_secret, true, 'no variable given: the stored secret stays');
  });

  it('takes a SAML connection’s private key from the variable, and says what is wrong with one that is not its certificate’s', async () => {
    const ours = keyPair();
    const saml = (variable: string) => ({
      connections: [
        {
          id: 'acme-saml',
          type: 'saml',
          display_name: 'Acme',
          settings: encryptedSamlSettings(ours.cert),
          client_secret_env: variable,
        },
      ],
    });
    await assert.rejects(
      importConnections(operator(database), box, saml('ACME_SP_KEY'), { ACME_SP_KEY: keyPair().key }),
      (error: InvalidInputError) =>
        error.fields.some(
          (f) => f.path === 'connections[0] (acme-saml): sp_private_key' && f.message === 'sp_private_key is not the key of sp_certificate',
        ),
    );
    assert.equal(await database.db('connections').where('id', 'acme-saml').first(), undefined, 'nothing imported');
    await importConnections(operator(database), box, saml('ACME_SP_KEY'), { ACME_SP_KEY: ours.key });
    const row = await database.db('connections').where('id', 'acme-saml').first();
    assert.equal(box.open(row.secret, { table: 'connections', rowId: 'acme-saml', purpose: 'secret' }), ours.key);
  });
});
