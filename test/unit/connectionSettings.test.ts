// What a connection's settings become once checked: presets fill what a connection leaves out
// (Google's, Microsoft's and Apple's issuers; GitHub's endpoints, scopes and email list), and each
// type says what it lacks. Then what the presets' providers say their own way (oidcPresets.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createConnection, newConnectionSchema, oidcIssuer, type OidcSettings } from '../../src/federation/connections.ts';
import { presetChecks, presetClaims } from '../../src/federation/oidcPresets.ts';
import type { UpstreamError } from '../../src/federation/oidcUpstream.ts';
import { encryptedSamlSettings, keyPair } from '../helpers/samlIdp.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import type { ServiceContext } from '../../src/changes/index.ts';

const parse = (type: string, settings: Record<string, unknown>) =>
  newConnectionSchema.safeParse({ id: 'some-idp', type, display_name: 'Some IdP', settings });

describe('connection settings', () => {
  it('works out Google’s, Microsoft’s and Apple’s issuers from the preset, and asks a generic provider for its own', () => {
    const google = parse('oidc', { preset: 'google', client_id: 'x.apps.googleusercontent.com' });
    assert.ok(google.success);
    assert.equal(oidcIssuer(google.data.settings as OidcSettings), 'https://accounts.google.com');
    const microsoft = parse('oidc', { preset: 'microsoft', client_id: 'app-id' });
    assert.ok(microsoft.success);
    assert.equal(oidcIssuer(microsoft.data.settings as OidcSettings), 'https://login.microsoftonline.com/common/v2.0');
    const oneTenant = parse('oidc', { preset: 'microsoft', client_id: 'app-id', tenant: 'Contoso.onmicrosoft.com' });
    assert.equal(oidcIssuer(oneTenant.data?.settings as OidcSettings), 'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0');
    const generic = parse('oidc', { client_id: 'x' });
    assert.ok(!generic.success);
    assert.deepEqual(
      generic.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      ['settings.issuer: issuer is required (or a preset: google, microsoft, apple)'],
    );
    const otherIssuer = parse('oidc', { preset: 'google', client_id: 'x', issuer: 'https://evil.example' });
    assert.match(
      otherIssuer.error?.issues[0].message ?? '',
      /issuer comes from preset: google \(https:\/\/accounts.google.com\); leave it out/,
    );
  });

  it('gives Apple’s defaults (form_post, client_secret_post, name and email scopes) and refuses what Apple does not do', () => {
    const apple = parse('oidc', { preset: 'apple', client_id: 'com.example.web', team_id: 'ABCDE12345', key_id: 'KEY1234567' });
    assert.ok(apple.success);
    const settings = apple.data.settings as OidcSettings;
    assert.equal(oidcIssuer(settings), 'https://appleid.apple.com');
    assert.equal(settings.response_mode, 'form_post');
    assert.equal(settings.token_endpoint_auth_method, 'client_secret_post');
    assert.deepEqual(settings.scopes, ['openid', 'email', 'name']);
    const wrong = parse('oidc', {
      preset: 'apple',
      client_id: 'x',
      response_mode: 'query',
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.deepEqual(
      wrong.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      [
        'settings.team_id: team_id is required for preset: apple',
        'settings.key_id: key_id is required for preset: apple',
        'settings.response_mode: Apple answers with response_mode form_post',
        'settings.token_endpoint_auth_method: Apple takes its client secret by client_secret_post',
      ],
    );
    const misplaced = parse('oidc', { preset: 'google', client_id: 'x', tenant: 'common', team_id: 'ABCDE12345' });
    assert.deepEqual(
      misplaced.error?.issues.map((i) => i.message),
      ['tenant is a setting of preset: microsoft', 'team_id is a setting of preset: apple'],
    );
  });

  it('takes only a P-256 key (.p8) as an Apple connection’s secret, before anything is written', async () => {
    const nowhere = {} as ServiceContext;
    const appleConnection = (client_secret?: string) =>
      createConnection(nowhere, createSecretBox('x'.repeat(40)), {
        id: 'apple',
        type: 'oidc',
        display_name: 'Apple',
        settings: { preset: 'apple', client_id: 'com.example.web', team_id: 'ABCDE12345', key_id: 'KEY1234567' },
        ...(client_secret && { client_secret }),
      });
    const refusedWith = (pattern: RegExp) => (error: { fields?: { message: string }[] }) => pattern.test(error.fields?.[0]?.message ?? '');
    await assert.rejects(appleConnection(), refusedWith(/client_secret is required for preset: apple/));
    await assert.rejects(appleConnection('a shared secret'), refusedWith(/must be the Sign in with Apple key/));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await assert.rejects(appleConnection(rsa), refusedWith(/must be the Sign in with Apple key/));
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

  it('asks a SAML connection that wants encrypted assertions for its key, and takes only the key of its certificate', async () => {
    const nowhere = {} as ServiceContext;
    const ours = keyPair();
    const samlConnection = (sp_private_key?: string) =>
      createConnection(nowhere, createSecretBox('x'.repeat(40)), {
        id: 'acme-saml',
        type: 'saml',
        display_name: 'Acme',
        settings: encryptedSamlSettings(ours.cert),
        ...(sp_private_key && { sp_private_key }),
      });
    const refusedWith = (message: string) => (error: { fields?: { path: string; message: string }[] }) =>
      error.fields?.[0]?.path === 'sp_private_key' && error.fields[0].message === message;
    await assert.rejects(samlConnection(), refusedWith('sp_private_key is required for encrypted assertions'));
    await assert.rejects(samlConnection(keyPair().key), refusedWith('sp_private_key is not the key of sp_certificate'));
    await assert.rejects(samlConnection('not a key'), refusedWith('sp_private_key must be a PEM private key'));
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

describe('what the presets’ providers say their own way', () => {
  const settings = (preset: string, more: Record<string, unknown> = {}) => {
    const parsed = newConnectionSchema.parse({
      id: 'preset-idp',
      type: 'oidc',
      display_name: 'P',
      settings: { preset, client_id: 'x', ...(preset === 'apple' && { team_id: 'ABCDE12345', key_id: 'KEY1234567' }), ...more },
    });
    return parsed.settings as OidcSettings;
  };

  it('Microsoft: an email counts as verified only when the domain owner vouches for it (xms_edov)', () => {
    const microsoft = settings('microsoft');
    assert.equal(presetClaims(microsoft, { email: 'a@contoso.com', email_verified: true }).email_verified, false);
    assert.equal(presetClaims(microsoft, { email: 'a@contoso.com', xms_edov: true }).email_verified, true);
    assert.equal(presetClaims(microsoft, { email: 'a@contoso.com', xms_edov: '1' }).email_verified, true);
  });

  it('Microsoft: a directory not in allowed_tenants is refused, and a token without tid is not accepted', () => {
    const allowed = '11111111-1111-1111-1111-111111111111';
    const microsoft = settings('microsoft', { allowed_tenants: [allowed.toUpperCase()] });
    assert.doesNotThrow(() => presetChecks(microsoft, { tid: allowed }));
    assert.throws(
      () => presetChecks(microsoft, { tid: '22222222-2222-2222-2222-222222222222' }),
      (error: UpstreamError) =>
        error.kind === 'refused' && /22222222-2222-2222-2222-222222222222 is not one this connection allows/.test(error.message),
    );
    assert.throws(
      () => presetChecks(microsoft, {}),
      (error: UpstreamError) => error.kind === 'invalid',
    );
    assert.doesNotThrow(() => presetChecks(settings('google'), {}));
  });

  it('Apple: "true" as a string is a verified email; the name comes from the posted user, never the email', () => {
    const apple = settings('apple');
    const posted = new URLSearchParams({
      user: JSON.stringify({ name: { firstName: 'Ann', lastName: 'Appleseed' }, email: 'other@evil.example' }),
    });
    const claims = presetClaims(apple, { sub: '001', email: 'ann@privaterelay.appleid.com', email_verified: 'true' }, posted);
    assert.deepEqual(claims, {
      given_name: 'Ann',
      family_name: 'Appleseed',
      name: 'Ann Appleseed',
      sub: '001',
      email: 'ann@privaterelay.appleid.com',
      email_verified: true,
    });
    assert.equal(presetClaims(apple, { email_verified: 'false' }).email_verified, false);
    const malformed = presetClaims(apple, { sub: '001' }, new URLSearchParams({ user: '{not json' }));
    assert.deepEqual(malformed, { sub: '001', email_verified: false });
  });
});
