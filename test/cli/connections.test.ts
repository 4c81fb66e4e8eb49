// `gatehouse connections …`: connecting upstream identity providers from the CLI, of every type
// (OpenID Connect with its presets google, microsoft and apple; OAuth 2.0 with github; SAML from
// the IdP's metadata file or URL, served here by a real HTTP server). A secret (client secret,
// Apple .p8 key, SAML private key) comes from standard input or a file and is stored only sealed
// (never printed, never in an event); what a type requires is the service's to say, all at once;
// a flag of another type is refused. `show` counts the users linked through a connection;
// `import` creates and updates a file's connections all at once or not at all, reading secrets
// from the variables the file names, in the operator's process even when the command is handed
// to the running server.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { TEST_SECRET_KEY } from '../helpers/server.ts';
import { operator } from '../helpers/fixtures.ts';
import { loadConfig } from '../../src/config.ts';
import { commandContext, type CommandContext } from '../../src/cli/context.ts';
import { runCommand } from '../../src/cli/run.ts';
import { operatorInput } from '../../src/cli/command.ts';
import { parseCommand } from '../../src/cli/commands/index.ts';
import { sendToServer, startAdminSocket } from '../../src/cli/adminSocket.ts';
import { createSamlIdp, keyPair } from '../helpers/samlIdp.ts';

import { createUser } from '../../src/accounts/index.ts';
import { insertIdentity } from '../../src/federation/index.ts';

const EXAMPLE_FILE = fileURLToPath(new URL('../../config/connections.example.yaml', import.meta.url));
/** Sign in with Apple's key: the .p8 file is a P-256 private key (PKCS#8 PEM). */
const APPLE_SIGN_IN_KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const EXAMPLE_SECRETS = {
  ACME_CLIENT_SECRET: 'acme-s3cret-value',
  GOOGLE_CLIENT_SECRET: 'google-s3cret-value',
  MICROSOFT_CLIENT_SECRET: 'microsoft-s3cret-value',
  APPLE_SIGN_IN_KEY,
  GITHUB_CLIENT_SECRET: 'github-s3cret-value',
  PARTNER_CLIENT_SECRET: 'partner-s3cret-value',
};
const EXAMPLE_IDS = ['acme-idp', 'google', 'microsoft', 'apple', 'github', 'partner-sso'];
const SECRET = 'upstream-client-s3cret';
/** A connection as `show --json` prints it. */
type Shown = Record<string, unknown> & { settings: Record<string, unknown> };
/** The start of `connections create` for a SAML connection named acme-saml. */
const CREATE_ACME_SAML = ['connections', 'create', '--id', 'acme-saml', '--type', 'saml', '--name', 'Acme'];
const ACME = ['--id', 'acme', '--type', 'oidc', '--name', 'Acme ID', '--issuer', 'https://id.acme.example', '--client-id', 'gatehouse'];
const SEALED = (id: string) => ({ table: 'connections', rowId: id, purpose: 'secret' });

const IDP_ENTITY_ID = 'https://idp.acme.example/metadata';
const IDP_SSO_URL = 'https://idp.acme.example/sso';
/** A PEM certificate as one line of base64, as metadata carries it. */
const base64Of = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
/** IdP metadata as an IdP publishes it: entity id, SSO URL (redirect binding), signing certificates. */
const idpMetadata = (certificates: string[]) =>
  [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${IDP_ENTITY_ID}">`,
    '  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">',
    ...certificates.map(
      (pem) =>
        `    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${base64Of(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`,
    ),
    `    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${IDP_SSO_URL}"/>`,
    '  </md:IDPSSODescriptor>',
    '</md:EntityDescriptor>',
  ].join('\n');

/**
 * A real HTTP server on a loopback port serving the IdP's metadata at /metadata (whatever `body()`
 * says now). It keeps no connection open, so once closed it is unreachable, as an IdP gone down.
 */
async function metadataServer(body: () => string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    res.setHeader('connection', 'close');
    if (req.url === '/metadata') return void res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(body());
    if (req.url === '/huge') return void res.writeHead(200, { 'content-type': 'application/xml' }).end('<x>'.padEnd(1024 * 1024 + 1, ' '));
    res.writeHead(404).end('not here');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** A Sign in with Apple key (.p8: PKCS#8 PEM), on P-256 or another curve. */
const p8Key = (namedCurve = 'P-256') =>
  generateKeyPairSync('ec', {
    namedCurve,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;

describe('gatehouse connections', () => {
  let database: TestDatabase;
  let ctx: CommandContext;
  let dir: string;

  before(async () => {
    database = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'gh-conn-'));
    const config = loadConfig({
      NODE_ENV: 'test',
      SECRET_KEY: TEST_SECRET_KEY,
      BCRYPT_COST: '4',
      DATA_DIR: dir,
      ISSUER: 'http://gatehouse.test',
    });
    ctx = commandContext(config, database);
  });

  beforeEach(() => truncateAll(database));

  after(async () => {
    await database?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * As `gatehouse` runs a command: what the operator's process gathers (files, a URL, standard
   * input, the variables a file names), then the command with what was gathered.
   */
  async function run(argv: string[], stdin = '', env: NodeJS.ProcessEnv = {}) {
    let gathered = '';
    try {
      gathered = await operatorInput(parseCommand(argv), async () => stdin, env);
    } catch {
      // Flags that do not parse: the command run says so, as gatehouse does.
    }
    return runCommand(ctx, argv, gathered);
  }
  async function json<T = Record<string, unknown>>(argv: string[], stdin = ''): Promise<T> {
    const outcome = await run([...argv, '--json'], stdin);
    assert.equal(outcome.exitCode, 0, `${argv.join(' ')}: ${outcome.stdout}${outcome.stderr}`);
    return JSON.parse(outcome.stdout) as T;
  }
  const asOperator = (argv: string[], env: NodeJS.ProcessEnv = {}) => run(argv, '', env);
  const writeFile = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  /** Rows of a table whose text holds `needle` anywhere. */
  const rowsMentioning = async (table: string, needle: string) =>
    Number(
      (
        await database
          .db(table)
          .whereRaw(`row_to_json(${table})::text like ?`, [`%${needle}%`])
          .count({ n: '*' })
          .first()
      )?.n,
    );
  const connectionIds = async () => (await database.db('connections').orderBy('id').pluck('id')) as string[];

  describe('create, list, show, update, delete', () => {
    it('creates a connection with the secret from standard input, stored only sealed and never printed', async () => {
      const human = await run(['connections', 'create', ...ACME, '--client-secret-stdin'], `${SECRET}\n`);
      assert.equal(human.exitCode, 0, human.stderr);
      assert.match(human.stdout, /^has_client_secret: +true$/m);
      assert.doesNotMatch(human.stdout, /s3cret/);

      const shown = await json(['connections', 'show', 'acme']);
      assert.deepEqual(
        { ...shown, created_at: undefined, updated_at: undefined },
        {
          id: 'acme',
          type: 'oidc',
          display_name: 'Acme ID',
          enabled: true,
          clients: null,
          domains: [],
          jit: true,
          linking: 'verified_email_with_proof',
          claims_update: 'on_sign_in',
          mapping: {},
          settings: {
            issuer: 'https://id.acme.example',
            client_id: 'gatehouse',
            scopes: ['openid', 'email', 'profile'],
            token_endpoint_auth_method: 'client_secret_basic',
            preset: 'generic',
            response_mode: 'query',
          },
          has_client_secret: true,
          linked_users: 0,
          created_at: undefined,
          updated_at: undefined,
        },
      );
      const row = await database.db('connections').where('id', 'acme').first();
      assert.notEqual(row.secret, SECRET);
      assert.ok(!row.secret.includes(SECRET), 'the column holds no plain secret');
      assert.equal(
        ctx.box.open(row.secret, { table: 'connections', rowId: 'acme', purpose: 'secret' }),
        SECRET,
        'it is the secret, sealed',
      );
      for (const table of ['domain_events', 'audit_events']) assert.equal(await rowsMentioning(table, 's3cret'), 0, table);
      assert.equal(await rowsMentioning('domain_events', 'connection.created'), 1);
    });

    it('takes every option of create, and lists connections by id', async () => {
      const created = await json([
        'connections',
        'create',
        '--id',
        'partner-sso',
        '--type',
        'oidc',
        '--name',
        'Partner SSO',
        '--issuer',
        'https://login.partner.example',
        '--client-id',
        'gh',
        '--client-secret',
        SECRET,
        '--scope',
        'openid',
        '--scope',
        'email',
        '--auth-method',
        'client_secret_post',
        '--client',
        'portal',
        '--client',
        'desk',
        '--domain',
        'Partner.example',
        '--no-jit',
        '--linking',
        'never',
        '--claims-update',
        'never',
        '--map',
        'given_name=first_name',
        '--map',
        'family_name=name.last',
        '--disabled',
      ]);
      assert.deepEqual(
        { ...created, created_at: undefined, updated_at: undefined },
        {
          id: 'partner-sso',
          type: 'oidc',
          display_name: 'Partner SSO',
          enabled: false,
          clients: ['portal', 'desk'],
          domains: ['partner.example'],
          jit: false,
          linking: 'never',
          claims_update: 'never',
          mapping: { given_name: 'first_name', family_name: 'name.last' },
          settings: {
            issuer: 'https://login.partner.example',
            client_id: 'gh',
            scopes: ['openid', 'email'],
            token_endpoint_auth_method: 'client_secret_post',
            preset: 'generic',
            response_mode: 'query',
          },
          has_client_secret: true,
          created_at: undefined,
          updated_at: undefined,
        },
      );
      await json(['connections', 'create', ...ACME, '--auth-method', 'none']);
      const listed = await json<{ id: string; has_client_secret: boolean }[]>(['connections', 'list']);
      assert.deepEqual(
        listed.map((c) => [c.id, c.has_client_secret]),
        [
          ['acme', false],
          ['partner-sso', true],
        ],
      );
      assert.ok(!JSON.stringify(listed).includes(SECRET));
    });

    it('counts the users linked through a connection; deleting it unlinks them and keeps their accounts', async () => {
      await json(['connections', 'create', ...ACME]);
      const ann = await createUser(
        operator(database),
        { email: 'ann@example.com', password: 'a long passphrase', email_verified: true },
        4,
      );
      await insertIdentity(database.db, {
        connectionId: 'acme',
        subject: 'ann-1',
        userId: ann.id,
        email: 'ann@acme.example',
        proven: true,
      });
      await insertIdentity(database.db, { connectionId: 'acme', subject: 'ann-2', userId: ann.id, proven: true });
      const bob = await createUser(
        operator(database),
        { email: 'bob@example.com', password: 'a long passphrase', email_verified: true },
        4,
      );
      await insertIdentity(database.db, { connectionId: 'acme', subject: 'bob', userId: bob.id, proven: true });
      assert.equal((await json(['connections', 'show', 'acme'])).linked_users, 2);

      const user = await json<{ identities: Record<string, unknown>[] }>(['users', 'show', 'bob@example.com']);
      assert.deepEqual(
        user.identities.map(({ created_at, last_used_at, ...rest }) => rest),
        [{ connection_id: 'acme', display_name: 'Acme ID', subject: 'bob', email: null }],
      );

      assert.deepEqual(await json(['connections', 'delete', 'acme']), { deleted: 'acme' });
      assert.deepEqual(await connectionIds(), []);
      assert.equal((await database.db('federated_identities')).length, 0);
      assert.deepEqual((await json<{ identities: unknown[] }>(['users', 'show', 'bob@example.com'])).identities, []);
      const gone = await run(['connections', 'show', 'acme']);
      assert.equal(gone.exitCode, 1);
      assert.equal(gone.stderr, 'No connection acme\n');
      assert.equal((await run(['connections', 'delete', 'acme'])).stderr, 'No connection acme\n');
    });

    it('updates only what the options name, and keeps the settings they leave out', async () => {
      await json([
        'connections',
        'create',
        ...ACME,
        '--scope',
        'openid',
        '--scope',
        'email',
        '--auth-method',
        'client_secret_post',
        '--client',
        'portal',
      ]);
      const moved = await json(['connections', 'update', 'acme', '--issuer', 'https://login.acme.example', '--name', 'Acme']);
      assert.equal(moved.display_name, 'Acme');
      assert.deepEqual(moved.settings, {
        issuer: 'https://login.acme.example',
        client_id: 'gatehouse',
        scopes: ['openid', 'email'],
        token_endpoint_auth_method: 'client_secret_post',
        preset: 'generic',
        response_mode: 'query',
      });
      assert.deepEqual(moved.clients, ['portal']);
      assert.equal(moved.has_client_secret, false);

      const withSecret = await json(
        ['connections', 'update', 'acme', '--client-secret-stdin', '--all-clients', '--disable', '--no-jit'],
        SECRET,
      );
      assert.deepEqual([withSecret.has_client_secret, withSecret.clients, withSecret.enabled, withSecret.jit], [true, null, false, false]);
      const row = await database.db('connections').where('id', 'acme').first();
      assert.equal(ctx.box.open(row.secret, { table: 'connections', rowId: 'acme', purpose: 'secret' }), SECRET);

      const mapped = await json([
        'connections',
        'update',
        'acme',
        '--map',
        'nickname=preferred_username',
        '--domain',
        'acme.example',
        '--enable',
        '--jit',
      ]);
      assert.deepEqual(
        [mapped.mapping, mapped.domains, mapped.enabled, mapped.jit],
        [{ nickname: 'preferred_username' }, ['acme.example'], true, true],
      );
      const cleared = await json(['connections', 'update', 'acme', '--no-client-secret', '--no-map', '--no-domains']);
      assert.deepEqual([cleared.has_client_secret, cleared.mapping, cleared.domains], [false, {}, []]);
      assert.equal((await database.db('connections').where('id', 'acme').first()).secret, null);
      assert.equal(await rowsMentioning('domain_events', SECRET), 0);
    });
  });

  describe('bad input', () => {
    it('names every missing option, and refuses options that contradict each other', async () => {
      const missing = await run(['connections', 'create', '--id', 'acme', '--json']);
      assert.equal(missing.exitCode, 1);
      assert.deepEqual(JSON.parse(missing.stdout), {
        error: 'Missing options',
        problems: ['--type is required', '--name is required'],
      });
      const both = await run(['connections', 'create', ...ACME, '--client-secret', 'x', '--client-secret-stdin'], 'y');
      assert.equal(both.stderr, '--client-secret and --client-secret-stdin cannot be combined\n');
      const empty = await run(['connections', 'create', ...ACME, '--client-secret-stdin'], '\n');
      assert.equal(empty.stderr, '--client-secret-stdin: standard input held no secret\n');
      const badMap = await run(['connections', 'create', ...ACME, '--map', 'given_name']);
      assert.equal(badMap.stderr, '--map given_name: write attribute=claim, such as given_name=given_name\n');
      const twice = await run(['connections', 'create', ...ACME, '--map', 'name=a', '--map', 'name=b']);
      assert.equal(twice.stderr, '--map name is given more than once\n');
      assert.deepEqual(await connectionIds(), []);

      await json(['connections', 'create', ...ACME]);
      const toggles = await run(['connections', 'update', 'acme', '--enable', '--disable']);
      assert.equal(toggles.stderr, '--enable and --disable cannot be combined\n');
      const clients = await run(['connections', 'update', 'acme', '--client', 'a', '--all-clients']);
      assert.equal(clients.stderr, '--client and --all-clients cannot be combined\n');
      const secrets = await run(['connections', 'update', 'acme', '--client-secret', 'x', '--no-client-secret']);
      assert.equal(secrets.stderr, '--client-secret and --no-client-secret cannot be combined\n');
      const nothing = await run(['connections', 'update', 'acme']);
      assert.equal(nothing.exitCode, 1);
      assert.match(nothing.stderr, /^Nothing to change: give at least one option\.\nUsage: gatehouse connections update ID /);
      const typeChange = await run(['connections', 'update', 'acme', '--type', 'saml']);
      assert.match(typeChange.stderr, /^Unknown option '--type'/);
    });

    it('explains what the service refuses, field by field, and changes nothing', async () => {
      const invalid = await run([
        'connections',
        'create',
        '--id',
        'Acme SSO',
        '--type',
        'oidc',
        '--name',
        'Acme',
        '--issuer',
        'ftp://id.acme.example',
        '--client-id',
        'gh',
        '--scope',
        'email',
        '--auth-method',
        'private_key_jwt',
        '--domain',
        'not a domain',
        '--linking',
        'always',
        '--json',
      ]);
      assert.equal(invalid.exitCode, 1);
      assert.deepEqual(JSON.parse(invalid.stdout), {
        error: 'Invalid input',
        problems: [
          'id: id must be 2-63 lower case letters, digits and -, such as acme-sso',
          'domains.0: domains must be domain names such as example.com',
          'linking: Invalid option: expected one of "verified_email_with_proof"|"never"',
          'settings.issuer: issuer must be an http or https URL',
          'settings.scopes: scopes must include openid',
          'settings.token_endpoint_auth_method: Invalid option: expected one of "client_secret_basic"|"client_secret_post"|"none"',
        ],
      });
      const unknownType = await run(['connections', 'create', ...ACME.slice(0, 2), '--type', 'ldap', ...ACME.slice(4)]);
      assert.equal(unknownType.exitCode, 1);
      assert.match(unknownType.stderr, /^Invalid input\n {2}- type: type must be /);
      assert.deepEqual(await connectionIds(), []);

      await json(['connections', 'create', ...ACME]);
      const duplicate = await run(['connections', 'create', ...ACME]);
      assert.equal(duplicate.exitCode, 1);
      assert.equal(duplicate.stderr, 'A connection acme already exists\n');
      const badUpdate = await run(['connections', 'update', 'acme', '--issuer', 'not a url', '--name', 'Renamed']);
      assert.equal(badUpdate.stderr, 'Invalid input\n  - settings.issuer: issuer must be an http or https URL\n');
      assert.equal((await json(['connections', 'show', 'acme'])).display_name, 'Acme ID', 'nothing changed');
      assert.equal((await run(['connections', 'update', 'nope', '--name', 'X'])).stderr, 'No connection nope\n');
    });
  });

  describe('every type and preset', () => {
    /** What printed output and the events must never hold: a private key, or the secret. */
    async function assertNothingSecretIn(...outputs: string[]) {
      for (const output of outputs) assert.ok(!/PRIVATE KEY|s3cret/.test(output), 'no secret printed');
      for (const table of ['domain_events', 'audit_events']) {
        assert.equal(await rowsMentioning(table, 'PRIVATE KEY'), 0, table);
        assert.equal(await rowsMentioning(table, 's3cret'), 0, table);
      }
    }

    it('creates an OAuth 2.0 connection with preset github: its endpoints, scopes and subject come from the preset', async () => {
      const created = await run(
        [
          'connections',
          'create',
          '--id',
          'github',
          '--type',
          'oauth2',
          '--preset',
          'github',
          '--name',
          'GitHub',
          '--client-id',
          'Iv1.abc',
          '--client-secret-stdin',
        ],
        `${SECRET}\n`,
      );
      assert.equal(created.exitCode, 0, created.stderr);
      const shown = await json<Shown>(['connections', 'show', 'github']);
      assert.deepEqual(shown.settings, {
        preset: 'github',
        client_id: 'Iv1.abc',
        authorization_endpoint: 'https://github.com/login/oauth/authorize',
        token_endpoint: 'https://github.com/login/oauth/access_token',
        profile_url: 'https://api.github.com/user',
        emails_url: 'https://api.github.com/user/emails',
        scopes: ['read:user', 'user:email'],
        subject_claim: 'id',
        email_claim: 'email',
        token_endpoint_auth_method: 'client_secret_post',
      });
      assert.deepEqual([shown.type, shown.has_client_secret], ['oauth2', true]);
      const row = await database.db('connections').where('id', 'github').first();
      assert.equal(ctx.box.open(row.secret, SEALED('github')), SECRET);
      await assertNothingSecretIn(created.stdout, JSON.stringify(shown));
    });

    it('lists everything a generic OAuth 2.0 connection lacks at once, then takes every OAuth 2.0 option', async () => {
      const base = ['connections', 'create', '--id', 'legacy', '--type', 'oauth2', '--name', 'Legacy', '--client-id', 'gh-legacy'];
      const missing = await run([...base, '--profile-url', 'https://legacy.example/api/me', '--json']);
      assert.equal(missing.exitCode, 1);
      assert.deepEqual(JSON.parse(missing.stdout), {
        error: 'Invalid input',
        problems: [
          'settings.authorization_endpoint: authorization_endpoint is required (or preset: github)',
          'settings.token_endpoint: token_endpoint is required (or preset: github)',
          'settings.subject_claim: subject_claim is required (or preset: github)',
        ],
      });
      assert.deepEqual(await connectionIds(), []);

      const created = await json<Shown>([
        ...base,
        '--authorization-endpoint',
        'https://legacy.example/oauth/authorize',
        '--token-endpoint',
        'https://legacy.example/oauth/token',
        '--profile-url',
        'https://legacy.example/api/me',
        '--emails-url',
        'https://legacy.example/api/emails',
        '--subject-claim',
        'account.id',
        '--email-claim',
        'account.mail',
        '--email-verified-claim',
        'account.mail_confirmed',
        '--scope',
        'profile',
        '--auth-method',
        'client_secret_basic',
        '--client-secret',
        SECRET,
      ]);
      assert.deepEqual(created.settings, {
        preset: 'generic',
        client_id: 'gh-legacy',
        authorization_endpoint: 'https://legacy.example/oauth/authorize',
        token_endpoint: 'https://legacy.example/oauth/token',
        profile_url: 'https://legacy.example/api/me',
        emails_url: 'https://legacy.example/api/emails',
        scopes: ['profile'],
        subject_claim: 'account.id',
        email_claim: 'account.mail',
        email_verified_claim: 'account.mail_confirmed',
        token_endpoint_auth_method: 'client_secret_basic',
      });
      const moved = await json<Shown>(['connections', 'update', 'legacy', '--token-endpoint', 'https://legacy.example/v2/token']);
      assert.equal(moved.settings.token_endpoint, 'https://legacy.example/v2/token');
      assert.equal(moved.settings.authorization_endpoint, 'https://legacy.example/oauth/authorize', 'the rest stays');
    });

    it('creates a Microsoft connection for a tenant, only for the directories allowed', async () => {
      const tenants = ['72F988BF-86F1-41AF-91AB-2D7CD011DB47', '9188040d-6c67-4c5b-b112-36a304b66dad'];
      const created = await run(
        [
          'connections',
          'create',
          '--id',
          'microsoft',
          '--type',
          'oidc',
          '--preset',
          'microsoft',
          '--name',
          'Microsoft',
          '--client-id',
          '00000000-aaaa-bbbb-cccc-000000000001',
          '--client-secret-stdin',
          '--tenant',
          'organizations',
          '--allowed-tenant',
          tenants[0],
          '--allowed-tenant',
          tenants[1],
        ],
        `${SECRET}\n`,
      );
      assert.equal(created.exitCode, 0, created.stderr);
      const shown = await json<Shown>(['connections', 'show', 'microsoft']);
      assert.deepEqual(shown.settings, {
        preset: 'microsoft',
        issuer: 'https://login.microsoftonline.com/organizations/v2.0',
        client_id: '00000000-aaaa-bbbb-cccc-000000000001',
        tenant: 'organizations',
        allowed_tenants: tenants.map((t) => t.toLowerCase()),
        scopes: ['openid', 'email', 'profile'],
        token_endpoint_auth_method: 'client_secret_basic',
        response_mode: 'query',
      });
      const moved = await json<Shown>(['connections', 'update', 'microsoft', '--tenant', 'contoso.example']);
      assert.equal(moved.settings.issuer, 'https://login.microsoftonline.com/contoso.example/v2.0');
      assert.deepEqual(moved.settings.allowed_tenants, shown.settings.allowed_tenants);
      // --unset takes a setting away: every directory may sign in again.
      const opened = await json<Shown>(['connections', 'update', 'microsoft', '--unset', 'allowed_tenants']);
      assert.equal(opened.settings.allowed_tenants, undefined);
      assert.equal(opened.settings.tenant, 'contoso.example');
      const again = await run(['connections', 'update', 'microsoft', '--unset', 'allowed_tenants']);
      assert.equal(again.stderr, 'Invalid input\n  - settings.allowed_tenants: allowed_tenants is not set on this connection\n');
      const both = await run(['connections', 'update', 'microsoft', '--tenant', 'common', '--unset', 'tenant']);
      assert.equal(both.stderr, '--tenant and --unset tenant cannot be combined\n');
      await assertNothingSecretIn(created.stdout);
    });

    it('creates an Apple connection with its .p8 key from a file; a key that is not P-256 is refused', async () => {
      const p8 = p8Key();
      const keyFile = writeFile('AuthKey_KEY1234567.p8', p8);
      const apple = ['connections', 'create', '--id', 'apple', '--type', 'oidc', '--preset', 'apple', '--name', 'Apple'];
      const ids = ['--client-id', 'com.example.web', '--team-id', 'ABCDE12345', '--key-id', 'KEY1234567'];

      const noTeam = await run([...apple, '--client-id', 'com.example.web', '--client-secret-file', keyFile, '--json']);
      assert.deepEqual(JSON.parse(noTeam.stdout).problems, [
        'settings.team_id: team_id is required for preset: apple',
        'settings.key_id: key_id is required for preset: apple',
      ]);
      const p384 = await run([...apple, ...ids, '--client-secret-stdin'], p8Key('P-384'));
      assert.equal(p384.exitCode, 1);
      assert.equal(
        p384.stderr,
        'Invalid input\n  - client_secret: client_secret must be the Sign in with Apple key: a .p8 file (PEM, BEGIN PRIVATE KEY)\n',
      );
      const rsa = writeFile('rsa.pem', keyPair().key);
      assert.equal((await run([...apple, ...ids, '--client-secret-file', rsa])).exitCode, 1, 'an RSA key is no Apple key');
      assert.deepEqual(await connectionIds(), [], 'nothing created');

      const created = await run([...apple, ...ids, '--client-secret-file', keyFile]);
      assert.equal(created.exitCode, 0, created.stderr);
      const shown = await json<Shown>(['connections', 'show', 'apple']);
      assert.deepEqual(shown.settings, {
        preset: 'apple',
        issuer: 'https://appleid.apple.com',
        client_id: 'com.example.web',
        team_id: 'ABCDE12345',
        key_id: 'KEY1234567',
        scopes: ['openid', 'email', 'name'],
        token_endpoint_auth_method: 'client_secret_post',
        response_mode: 'form_post',
      });
      assert.equal(shown.has_client_secret, true);
      const row = await database.db('connections').where('id', 'apple').first();
      assert.equal(ctx.box.open(row.secret, SEALED('apple')), p8.replace(/\n$/, ''), 'the key, sealed');
      await assertNothingSecretIn(created.stdout, JSON.stringify(shown));
      assert.ok(!created.stdout.includes(base64Of(p8).slice(0, 40)));

      // A new key later, from standard input; one that is not P-256 leaves the old one.
      const refused = await run(['connections', 'update', 'apple', '--client-secret-stdin'], p8Key('P-384'));
      assert.match(refused.stderr, /client_secret must be the Sign in with Apple key/);
      const rotated = p8Key();
      assert.equal((await run(['connections', 'update', 'apple', '--client-secret-stdin'], rotated)).exitCode, 0);
      const after = await database.db('connections').where('id', 'apple').first();
      assert.equal(ctx.box.open(after.secret, SEALED('apple')), rotated.replace(/\n$/, ''));
    });

    it('creates a SAML connection from the IdP’s metadata file, with every SAML option and its private key sealed', async () => {
      const idp = createSamlIdp();
      const sp = keyPair();
      const created = await run([
        'connections',
        'create',
        '--id',
        'acme-saml',
        '--type',
        'saml',
        '--name',
        'Acme SAML',
        '--idp-metadata',
        writeFile('idp-metadata.xml', idp.metadata),
        '--name-id-format',
        'emailAddress',
        '--email-attribute',
        'mail',
        '--emails-verified',
        '--want-encrypted-assertions',
        '--sp-certificate-file',
        writeFile('sp.crt', sp.cert),
        '--sp-key-file',
        writeFile('sp.key', sp.key),
        '--clock-skew',
        '120',
        '--domain',
        'acme.example',
      ]);
      assert.equal(created.exitCode, 0, created.stderr);
      const shown = await json<Shown>(['connections', 'show', 'acme-saml']);
      assert.deepEqual(shown.settings, {
        idp_entity_id: idp.entityId,
        sso_url: idp.ssoUrl,
        idp_certificates: [idp.cert.trim()],
        name_id_format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        email_attribute: 'mail',
        emails_verified: true,
        want_encrypted_assertions: true,
        sp_certificate: sp.cert.trim(),
        // The IdP's single logout service, from its metadata: the connection has our key to sign for it.
        slo_url: idp.sloUrl,
        clock_skew_seconds: 120,
      });
      assert.deepEqual([shown.type, shown.domains, shown.has_client_secret], ['saml', ['acme.example'], true]);
      const row = await database.db('connections').where('id', 'acme-saml').first();
      assert.equal(ctx.box.open(row.secret, SEALED('acme-saml')), sp.key, 'our private key, sealed');
      await assertNothingSecretIn(created.stdout, JSON.stringify(shown));

      // Given one by one instead of by metadata, with the defaults.
      const byHand = await json<Shown>([
        'connections',
        'create',
        '--id',
        'partner-saml',
        '--type',
        'saml',
        '--name',
        'Partner',
        '--idp-entity-id',
        IDP_ENTITY_ID,
        '--sso-url',
        IDP_SSO_URL,
        '--idp-certificate-file',
        writeFile('idp-1.crt', idp.cert),
        '--idp-certificate-file',
        writeFile('idp-2.crt', idp.strangerCert),
      ]);
      assert.deepEqual(byHand.settings, {
        idp_entity_id: IDP_ENTITY_ID,
        sso_url: IDP_SSO_URL,
        idp_certificates: [idp.cert.trim(), idp.strangerCert.trim()],
        name_id_format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        email_attribute: 'email',
        emails_verified: false,
        want_encrypted_assertions: false,
        clock_skew_seconds: 60,
      });
      assert.equal(byHand.has_client_secret, false);
    });

    it('fetches the IdP’s metadata from a URL; an unreachable URL, an error answer or a bad file creates nothing', async () => {
      const { cert } = keyPair();
      const { url, server } = await metadataServer(() => idpMetadata([cert]));
      const closed = await metadataServer(() => '');
      await closeServer(closed.server);
      const saml = (source: string) => [
        'connections',
        'create',
        '--id',
        'acme-saml',
        '--type',
        'saml',
        '--name',
        'Acme SAML',
        '--idp-metadata',
        source,
      ];
      try {
        const unreachable = await run(saml(`${closed.url}/metadata`));
        assert.equal(unreachable.exitCode, 1);
        assert.equal(unreachable.stderr, `--idp-metadata: cannot fetch ${closed.url}/metadata (connection refused)\n`);
        assert.equal((await run(saml(`${url}/gone`))).stderr, `--idp-metadata: ${url}/gone answered 404 Not Found\n`);
        assert.equal((await run(saml(`${url}/huge`))).stderr, `--idp-metadata: ${url}/huge sent more than 1 MB\n`);
        assert.equal(
          (await run(saml('ftp://idp.acme.example/metadata'))).stderr,
          '--idp-metadata: ftp://idp.acme.example/metadata: only http and https URLs are fetched\n',
        );
        const absent = join(dir, 'absent.xml');
        assert.equal((await run(saml(absent))).stderr, `--idp-metadata: cannot read ${absent} (ENOENT)\n`);
        const empty = writeFile('empty.xml', '\n');
        assert.equal((await run(saml(empty))).stderr, `--idp-metadata: ${empty} is empty\n`);
        assert.equal(
          (await run(saml(writeFile('not-metadata.xml', '<html><body>Sign in</body></html>')))).stderr,
          'Invalid input\n  - settings.idp_metadata_xml: idp_metadata_xml has no EntityDescriptor with an entityID\n',
        );
        assert.deepEqual(await connectionIds(), [], 'nothing created');

        const created = await json<Shown>(saml(`${url}/metadata`));
        assert.deepEqual(
          [created.settings.idp_entity_id, created.settings.sso_url, created.settings.idp_certificates],
          [IDP_ENTITY_ID, IDP_SSO_URL, [cert.trim()]],
        );
        assert.equal('idp_metadata_xml' in created.settings, false, 'the XML itself is not kept');
      } finally {
        await closeServer(server);
      }
    });

    it('updates a SAML connection by reading its IdP’s metadata again, picking up rotated certificates', async () => {
      const [old, next] = [keyPair().cert, keyPair().cert];
      let published = [old];
      const { url, server } = await metadataServer(() => idpMetadata(published));
      try {
        await json(['connections', 'create', '--id', 'acme-saml', '--type', 'saml', '--name', 'Acme', '--idp-metadata', `${url}/metadata`]);
        const certificates = async () =>
          (await database.db('connections').where('id', 'acme-saml').first()).settings.idp_certificates as string[];
        assert.deepEqual(await certificates(), [old.trim()]);

        // The IdP announces its next certificate beside the current one, then drops the old one.
        published = [old, next];
        const both = await json<Shown>(['connections', 'update', 'acme-saml', '--idp-metadata', `${url}/metadata`, '--clock-skew', '30']);
        assert.deepEqual(both.settings.idp_certificates, [old.trim(), next.trim()]);
        assert.equal(both.settings.clock_skew_seconds, 30);
        published = [next];
        await json(['connections', 'update', 'acme-saml', '--idp-metadata', `${url}/metadata`]);
        assert.deepEqual(await certificates(), [next.trim()]);

        // The other SAML settings change one by one; the private key is replaced, never shown.
        const sp = keyPair();
        const changed = await run([
          'connections',
          'update',
          'acme-saml',
          '--sp-certificate-file',
          writeFile('sp.crt', sp.cert),
          '--sp-key-file',
          writeFile('sp.key', sp.key),
          '--want-encrypted-assertions',
          '--emails-verified',
          '--json',
        ]);
        assert.equal(changed.exitCode, 0, changed.stdout);
        const shown = JSON.parse(changed.stdout) as Shown;
        assert.deepEqual(
          [
            shown.settings.want_encrypted_assertions,
            shown.settings.emails_verified,
            shown.settings.sp_certificate,
            shown.has_client_secret,
          ],
          [true, true, sp.cert.trim(), true],
        );
        const row = await database.db('connections').where('id', 'acme-saml').first();
        assert.equal(ctx.box.open(row.secret, SEALED('acme-saml')), sp.key);
        // A key that is not the certificate's is refused; so is none while assertions come encrypted.
        const stranger = await run(['connections', 'update', 'acme-saml', '--sp-key-file', writeFile('other.key', keyPair().key)]);
        assert.equal(stranger.stderr, 'Invalid input\n  - sp_private_key: sp_private_key is not the key of sp_certificate\n');
        const keyless = await run(['connections', 'update', 'acme-saml', '--no-sp-key']);
        assert.equal(keyless.stderr, 'Invalid input\n  - sp_private_key: sp_private_key is required for encrypted assertions\n');
        assert.equal(ctx.box.open((await database.db('connections').where('id', 'acme-saml').first()).secret, SEALED('acme-saml')), sp.key);
        const plain = await json<Shown>(['connections', 'update', 'acme-saml', '--no-want-encrypted-assertions', '--no-sp-key']);
        assert.deepEqual([plain.settings.want_encrypted_assertions, plain.has_client_secret], [false, false]);

        const off = await json<Shown>([
          'connections',
          'update',
          'acme-saml',
          '--no-emails-verified',
          '--sso-url',
          'https://idp.acme.example/sso/v2',
        ]);
        assert.deepEqual([off.settings.emails_verified, off.settings.sso_url], [false, 'https://idp.acme.example/sso/v2']);
        assert.deepEqual(off.settings.idp_certificates, [next.trim()]);
        await assertNothingSecretIn(changed.stdout);

        // The IdP unreachable: nothing changes.
        await closeServer(server);
        const unreachable = await run(['connections', 'update', 'acme-saml', '--idp-metadata', `${url}/metadata`]);
        assert.equal(unreachable.stderr, `--idp-metadata: cannot fetch ${url}/metadata (connection refused)\n`);
        assert.deepEqual(await certificates(), [next.trim()]);
      } finally {
        await closeServer(server);
      }
    });

    it('reads the files a create names in the operator’s process when the running server runs the command', async () => {
      const idp = createSamlIdp();
      const sp = keyPair();
      const socket = await startAdminSocket(ctx.config, database);
      try {
        const argv = [
          'connections',
          'create',
          '--id',
          'acme-saml',
          '--type',
          'saml',
          '--name',
          'Acme SAML',
          '--idp-metadata',
          writeFile('socket-idp.xml', idp.metadata),
          '--sp-certificate-file',
          writeFile('socket-sp.crt', sp.cert),
          '--sp-key-file',
          writeFile('socket-sp.key', sp.key),
          '--json',
        ];
        const outcome = await sendToServer(dir, argv, await operatorInput(parseCommand(argv), async () => ''));
        assert.equal(outcome.exitCode, 0, outcome.stdout + outcome.stderr);
        assert.equal(JSON.parse(outcome.stdout).settings.idp_entity_id, idp.entityId);
        const row = await database.db('connections').where('id', 'acme-saml').first();
        assert.equal(ctx.box.open(row.secret, SEALED('acme-saml')), sp.key);
        await assertNothingSecretIn(outcome.stdout);

        // More than the socket takes: a clear answer, not a broken one, and the socket still serves.
        const tooLarge = await sendToServer(dir, ['connections', 'list'], 'x'.repeat(5 * 1024 * 1024));
        assert.deepEqual(tooLarge, { exitCode: 1, stdout: '', stderr: 'The command and its input are larger than 4 MB\n' });
        const listed = await sendToServer(dir, ['connections', 'list', '--json'], '');
        assert.equal(listed.exitCode, 0, listed.stderr);
      } finally {
        await socket.close();
      }
    });

    it('refuses an option of another type, naming the type it is for, and changes nothing', async () => {
      const sso = await run(['connections', 'create', ...ACME, '--sso-url', 'https://idp.acme.example/sso']);
      assert.equal(sso.exitCode, 1);
      assert.equal(sso.stderr, '--sso-url is for --type saml\n');
      const several = await run([
        ...CREATE_ACME_SAML,
        '--idp-metadata',
        writeFile('idp.xml', createSamlIdp().metadata),
        '--client-id',
        'gatehouse',
        '--scope',
        'openid',
        '--json',
      ]);
      assert.deepEqual(JSON.parse(several.stdout), {
        error: 'Options for another type than saml',
        problems: ['--client-id is for --type oidc or oauth2', '--scope is for --type oidc or oauth2'],
      });
      const issuer = await run([
        'connections',
        'create',
        '--id',
        'gh',
        '--type',
        'oauth2',
        '--preset',
        'github',
        '--name',
        'GitHub',
        '--client-id',
        'x',
        '--issuer',
        'https://github.com',
      ]);
      assert.equal(issuer.stderr, '--issuer is for --type oidc\n');
      // A preset's own settings with another preset: the service says whose they are.
      const tenant = await run([
        'connections',
        'create',
        ...ACME.slice(0, 6),
        '--preset',
        'google',
        '--client-id',
        'x',
        '--tenant',
        'organizations',
      ]);
      assert.equal(tenant.stderr, 'Invalid input\n  - settings.tenant: tenant is a setting of preset: microsoft\n');
      const together = await run([
        ...CREATE_ACME_SAML,
        '--idp-metadata',
        writeFile('idp2.xml', createSamlIdp().metadata),
        '--sso-url',
        IDP_SSO_URL,
      ]);
      assert.equal(together.stderr, '--idp-metadata and --sso-url cannot be combined\n');
      const skew = await run([...CREATE_ACME_SAML, '--clock-skew', 'a minute']);
      assert.equal(skew.stderr, '--clock-skew must be a whole number of seconds, such as 60\n');
      const unreadable = await run([
        ...CREATE_ACME_SAML,
        '--idp-entity-id',
        IDP_ENTITY_ID,
        '--sso-url',
        IDP_SSO_URL,
        '--idp-certificate-file',
        join(dir, 'one.crt'),
        '--idp-certificate-file',
        join(dir, 'two.crt'),
        '--json',
      ]);
      assert.deepEqual(JSON.parse(unreadable.stdout), {
        error: 'Cannot read what the options name',
        problems: [
          `--idp-certificate-file: cannot read ${join(dir, 'one.crt')} (ENOENT)`,
          `--idp-certificate-file: cannot read ${join(dir, 'two.crt')} (ENOENT)`,
        ],
      });
      assert.deepEqual(await connectionIds(), [], 'nothing created');

      await json(['connections', 'create', ...ACME]);
      const metadata = await run(['connections', 'update', 'acme', '--idp-metadata', writeFile('idp3.xml', createSamlIdp().metadata)]);
      assert.equal(metadata.stderr, '--idp-metadata is for --type saml; acme is an oidc connection\n');
      await json([...CREATE_ACME_SAML, '--idp-metadata', writeFile('idp4.xml', createSamlIdp().metadata)]);
      const secrets = await run(['connections', 'update', 'acme-saml', '--client-secret', SECRET, '--no-client-secret', '--json']);
      assert.deepEqual(JSON.parse(secrets.stdout), {
        error: 'Options for another type: acme-saml is a saml connection',
        problems: ['--client-secret is for --type oidc or oauth2', '--no-client-secret is for --type oidc or oauth2'],
      });
      assert.equal((await database.db('connections').where('id', 'acme-saml').first()).secret, null, 'nothing changed');
    });
  });

  describe('import', () => {
    it('imports the shipped example with its secrets from the environment, then updates on a second import', async () => {
      const first = await asOperator(['connections', 'import', EXAMPLE_FILE, '--json'], EXAMPLE_SECRETS);
      assert.equal(first.exitCode, 0, first.stdout + first.stderr);
      assert.deepEqual(JSON.parse(first.stdout), { created: EXAMPLE_IDS, updated: [] });
      assert.ok(!first.stdout.includes('s3cret') && !first.stdout.includes('PRIVATE KEY'));
      const partner = await json(['connections', 'show', 'partner-sso']);
      assert.deepEqual(
        [partner.clients, partner.domains, partner.jit, partner.claims_update, partner.has_client_secret],
        [['partner-portal', 'support-desk'], ['partner.example', 'partner-subsidiary.example'], false, 'never', true],
      );
      assert.equal((await json<Shown>(['connections', 'show', 'google'])).settings.issuer, 'https://accounts.google.com');
      const rows = await database.db('connections').orderBy('id').select('id', 'secret');
      assert.deepEqual(
        rows.map((r) => ctx.box.open(r.secret, { table: 'connections', rowId: r.id, purpose: 'secret' })),
        [
          'acme-s3cret-value',
          APPLE_SIGN_IN_KEY,
          'github-s3cret-value',
          'google-s3cret-value',
          'microsoft-s3cret-value',
          'partner-s3cret-value',
        ],
      );
      for (const table of ['connections', 'domain_events', 'audit_events']) assert.equal(await rowsMentioning(table, 's3cret'), 0, table);

      // An upsert by id: google changes, a new one is made, partner-sso (not in the file) stays;
      // an entry without client_secret_env keeps the secret it had.
      const second = writeFile(
        'second.yaml',
        [
          'connections:',
          '  - id: google',
          '    type: oidc',
          '    display_name: Google Workspace',
          '    settings: { issuer: "https://accounts.google.com", client_id: other-id }',
          '    domains: [example.com]',
          '  - id: okta',
          '    type: oidc',
          '    display_name: Okta',
          '    settings: { issuer: "https://example.okta.com", client_id: okta-client, token_endpoint_auth_method: none }',
        ].join('\n'),
      );
      const again = await asOperator(['connections', 'import', second, '--json']);
      assert.deepEqual(JSON.parse(again.stdout), { created: ['okta'], updated: ['google'] });
      const google = await json<Shown>(['connections', 'show', 'google']);
      assert.deepEqual(
        [google.display_name, google.settings.client_id, google.domains, google.has_client_secret],
        ['Google Workspace', 'other-id', ['example.com'], true],
      );
      assert.deepEqual(await connectionIds(), ['acme-idp', 'apple', 'github', 'google', 'microsoft', 'okta', 'partner-sso']);
    });

    it('reads the file and its variables in the operator’s process when the running server runs the command', async () => {
      // The server's own environment has none of the variables: only what the CLI gathered counts.
      for (const name of Object.keys(EXAMPLE_SECRETS)) assert.equal(process.env[name], undefined);
      const socket = await startAdminSocket(ctx.config, database);
      try {
        const argv = ['connections', 'import', EXAMPLE_FILE, '--json'];
        const outcome = await sendToServer(dir, argv, await operatorInput(parseCommand(argv), async () => '', EXAMPLE_SECRETS));
        assert.equal(outcome.exitCode, 0, outcome.stdout + outcome.stderr);
        assert.deepEqual(JSON.parse(outcome.stdout), { created: EXAMPLE_IDS, updated: [] });
        const missing = await sendToServer(dir, argv, await operatorInput(parseCommand(argv), async () => '', {}));
        assert.equal(missing.exitCode, 1);
        assert.deepEqual(
          JSON.parse(missing.stdout).problems,
          Object.keys(EXAMPLE_SECRETS).map(
            (variable, index) =>
              `connections[${index}] (${EXAMPLE_IDS[index]}): client_secret_env: environment variable ${variable} is not set`,
          ),
        );
      } finally {
        await socket.close();
      }
    });

    it('explains a file it cannot read or parse', async () => {
      const absent = await asOperator(['connections', 'import', join(dir, 'absent.yaml')]);
      assert.equal(absent.exitCode, 1);
      assert.equal(absent.stderr, `Cannot read ${join(dir, 'absent.yaml')} (ENOENT)\n`);
      const broken = writeFile('broken.json', '{"connections": [');
      assert.match((await asOperator(['connections', 'import', broken])).stderr, /^.*broken\.json is not valid JSON: /);
      const yaml = writeFile('broken.yaml', 'connections:\n  - id: [unclosed\n');
      assert.match((await asOperator(['connections', 'import', yaml])).stderr, /^.*broken\.yaml is not valid YAML: /);
      const notAList = writeFile('empty.yaml', 'connection:\n  id: acme\n');
      assert.equal(
        (await asOperator(['connections', 'import', notAList])).stderr,
        'Nothing was imported\n  - connections: the file must hold a list named connections\n',
      );
      assert.deepEqual(await connectionIds(), []);
    });

    it('changes nothing when an entry is wrong, and names every problem with its entry', async () => {
      await asOperator(['connections', 'import', EXAMPLE_FILE], EXAMPLE_SECRETS);
      const before = await database.db('connections').orderBy('id');
      const file = writeFile(
        'bad.json',
        JSON.stringify({
          connections: [
            { id: 'google', type: 'oidc', display_name: 'Renamed', settings: { issuer: 'https://accounts.google.com', client_id: 'x' } },
            { id: 'acme', type: 'oidc', display_name: 'Acme', settings: { issuer: 'ftp://acme.example', client_id: 'x' } },
            {
              id: 'beta',
              type: 'oidc',
              display_name: 'Beta',
              settings: { issuer: 'https://beta.example', client_id: 'b' },
              client_secret_env: 'BETA_SECRET',
            },
            {
              id: 'gamma',
              type: 'oidc',
              display_name: 'Gamma',
              settings: { issuer: 'https://g.example', client_id: 'g' },
              client_secret: 'plain',
            },
            { id: 'acme', type: 'oidc', display_name: 'Acme again', settings: { issuer: 'https://acme.example', client_id: 'x' } },
            'not an entry',
            { id: 'delta', type: 'oidc', display_name: 'Delta', settings: { issuer: 'https://d.example', client_id: 'd' }, colour: 'red' },
          ],
          version: 2,
        }),
      );
      const outcome = await asOperator(['connections', 'import', file, '--json']);
      assert.equal(outcome.exitCode, 1);
      assert.deepEqual(JSON.parse(outcome.stdout), {
        error: 'Nothing was imported',
        problems: [
          'version: unknown field',
          'connections[1] (acme): settings.issuer: issuer must be an http or https URL',
          'connections[2] (beta): client_secret_env: environment variable BETA_SECRET is not set',
          'connections[3] (gamma): client_secret: a file never holds the secret: put it in an environment variable and name it in client_secret_env',
          'connections[4] (acme): id: acme is declared more than once in the file',
          'connections[5]: each entry must be a mapping with id, type, display_name and settings',
          'connections[6] (delta): colour: unknown field',
        ],
      });
      assert.deepEqual(await database.db('connections').orderBy('id'), before, 'nothing changed');
    });
  });
});
