// What a connection's settings become once checked: presets fill what a connection leaves out
// (Google's issuer; GitHub's endpoints, scopes and email list), and each type says what it lacks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, newConnectionSchema } from '../../src/federation/connections.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import type { ServiceContext } from '../../src/changes/index.ts';

const parse = (type: string, settings: Record<string, unknown>) =>
  newConnectionSchema.safeParse({ id: 'some-idp', type, display_name: 'Some IdP', settings });

describe('connection settings', () => {
  it('fills Google’s issuer from the preset, and asks a generic provider for its own', () => {
    const google = parse('oidc', { preset: 'google', client_id: 'x.apps.googleusercontent.com' });
    assert.ok(google.success);
    assert.equal((google.data.settings as { issuer: string }).issuer, 'https://accounts.google.com');
    const generic = parse('oidc', { client_id: 'x' });
    assert.ok(!generic.success);
    assert.deepEqual(
      generic.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      ['settings.issuer: issuer is required (or preset: google)'],
    );
  });

  it('fills GitHub’s endpoints from the preset, and names each endpoint a generic OAuth 2.0 provider lacks', () => {
    const github = parse('oauth2', { preset: 'github', client_id: 'Iv1.abc' });
    assert.ok(github.success);
    const settings = github.data.settings as Record<string, unknown>;
    assert.equal(settings.emails_url, 'https://api.github.com/user/emails');
    assert.deepEqual(settings.scopes, ['read:user', 'user:email']);
    const generic = parse('oauth2', { client_id: 'x', profile_url: 'https://api.example/me' });
    assert.ok(!generic.success);
    assert.deepEqual(
      generic.error.issues.map((i) => i.path.join('.')),
      ['settings.authorization_endpoint', 'settings.token_endpoint', 'settings.subject_claim'],
    );
  });

  it('refuses an unknown type, and a client secret on a SAML connection', () => {
    assert.match(parse('ldap', {}).error?.issues[0].message ?? '', /type must be one of oidc, oauth2, saml/);
    const saml = newConnectionSchema.safeParse({
      id: 'acme',
      type: 'saml',
      display_name: 'Acme',
      client_secret: 'x',
      settings: {
        idp_entity_id: 'https://idp',
        sso_url: 'https://idp/sso',
        idp_certificates: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'],
      },
    });
    assert.ok(!saml.success);
    assert.match(saml.error.issues.map((i) => i.message).join(' '), /a SAML connection has no client secret: give sp_private_key/);
  });

  it('refuses a client secret with a token endpoint method that sends none, before anything is written', async () => {
    // No database: the refusal comes before the service would touch one.
    const nowhere = {} as ServiceContext;
    await assert.rejects(
      createConnection(nowhere, createSecretBox('x'.repeat(40)), {
        id: 'public-idp',
        type: 'oidc',
        display_name: 'Public',
        settings: { issuer: 'https://idp.example', client_id: 'x', token_endpoint_auth_method: 'none' },
        client_secret: 'pointless',
      }),
      (error: { fields?: { path: string; message: string }[] }) =>
        error.fields?.[0]?.message === 'client_secret is not used with token_endpoint_auth_method none',
    );
  });
});
