// `gatehouse connections …`: connecting upstream identity providers from the CLI. The client
// secret comes from standard input and is stored only sealed (never printed, never in an event);
// `show` counts the users linked through a connection; `import` creates and updates a file's
// connections all at once or not at all, reading secrets from the variables the file names, in
// the operator's process even when the command is handed to the running server.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

import { createUser } from '../../src/accounts/index.ts';
import { insertIdentity } from '../../src/federation/index.ts';

const EXAMPLE_FILE = fileURLToPath(new URL('../../config/connections.example.yaml', import.meta.url));
const EXAMPLE_SECRETS = {
  ACME_CLIENT_SECRET: 'acme-s3cret-value',
  GOOGLE_CLIENT_SECRET: 'google-s3cret-value',
  PARTNER_CLIENT_SECRET: 'partner-s3cret-value',
};
const SECRET = 'upstream-client-s3cret';
/** A connection as `show --json` prints it. */
type Shown = Record<string, unknown> & { settings: Record<string, unknown> };
const ACME = ['--id', 'acme', '--type', 'oidc', '--name', 'Acme ID', '--issuer', 'https://id.acme.example', '--client-id', 'gatehouse'];

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

  const run = (argv: string[], stdin = '') => runCommand(ctx, argv, stdin);
  async function json<T = Record<string, unknown>>(argv: string[], stdin = ''): Promise<T> {
    const outcome = await run([...argv, '--json'], stdin);
    assert.equal(outcome.exitCode, 0, `${argv.join(' ')}: ${outcome.stdout}${outcome.stderr}`);
    return JSON.parse(outcome.stdout) as T;
  }
  /** As `gatehouse` runs it: what the operator's process gathers (a file, its variables), then the command. */
  async function asOperator(argv: string[], env: NodeJS.ProcessEnv = {}) {
    return runCommand(ctx, argv, await operatorInput(parseCommand(argv), async () => '', env));
  }
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
      await insertIdentity(database.db, { connectionId: 'acme', subject: 'ann-1', userId: ann.id, email: 'ann@acme.example' });
      await insertIdentity(database.db, { connectionId: 'acme', subject: 'ann-2', userId: ann.id });
      const bob = await createUser(
        operator(database),
        { email: 'bob@example.com', password: 'a long passphrase', email_verified: true },
        4,
      );
      await insertIdentity(database.db, { connectionId: 'acme', subject: 'bob', userId: bob.id });
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
        problems: ['--type is required', '--name is required', '--issuer is required', '--client-id is required'],
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

  describe('import', () => {
    it('imports the shipped example with its secrets from the environment, then updates on a second import', async () => {
      const first = await asOperator(['connections', 'import', EXAMPLE_FILE, '--json'], EXAMPLE_SECRETS);
      assert.equal(first.exitCode, 0, first.stdout + first.stderr);
      assert.deepEqual(JSON.parse(first.stdout), { created: ['acme-idp', 'google', 'partner-sso'], updated: [] });
      assert.ok(!first.stdout.includes('s3cret'));
      const partner = await json(['connections', 'show', 'partner-sso']);
      assert.deepEqual(
        [partner.clients, partner.domains, partner.jit, partner.claims_update, partner.has_client_secret],
        [['partner-portal', 'support-desk'], ['partner.example', 'partner-subsidiary.example'], false, 'never', true],
      );
      assert.equal((await json<Shown>(['connections', 'show', 'google'])).settings.issuer, 'https://accounts.google.com');
      const rows = await database.db('connections').orderBy('id').select('id', 'secret');
      assert.deepEqual(
        rows.map((r) => ctx.box.open(r.secret, { table: 'connections', rowId: r.id, purpose: 'secret' })),
        ['acme-s3cret-value', 'google-s3cret-value', 'partner-s3cret-value'],
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
      assert.deepEqual(await connectionIds(), ['acme-idp', 'google', 'okta', 'partner-sso']);
    });

    it('reads the file and its variables in the operator’s process when the running server runs the command', async () => {
      // The server's own environment has none of the variables: only what the CLI gathered counts.
      for (const name of Object.keys(EXAMPLE_SECRETS)) assert.equal(process.env[name], undefined);
      const socket = await startAdminSocket(ctx.config, database);
      try {
        const argv = ['connections', 'import', EXAMPLE_FILE, '--json'];
        const outcome = await sendToServer(dir, argv, await operatorInput(parseCommand(argv), async () => '', EXAMPLE_SECRETS));
        assert.equal(outcome.exitCode, 0, outcome.stdout + outcome.stderr);
        assert.deepEqual(JSON.parse(outcome.stdout), { created: ['acme-idp', 'google', 'partner-sso'], updated: [] });
        const missing = await sendToServer(dir, argv, await operatorInput(parseCommand(argv), async () => '', {}));
        assert.equal(missing.exitCode, 1);
        assert.deepEqual(JSON.parse(missing.stdout).problems, [
          'connections[0] (acme-idp): client_secret_env: environment variable ACME_CLIENT_SECRET is not set',
          'connections[1] (google): client_secret_env: environment variable GOOGLE_CLIENT_SECRET is not set',
          'connections[2] (partner-sso): client_secret_env: environment variable PARTNER_CLIENT_SECRET is not set',
        ]);
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
