// The CLI's commands run in-process against a test database: every command, --json output, and
// the operator mistakes each one must explain. Every test starts from empty tables, so none
// depends on running first or on what another one created.
import { describe, it, before, beforeEach, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { loadConfig } from '../../src/config.ts';
import { commandContext, type CommandContext } from '../../src/cli/context.ts';
import { runCommand } from '../../src/cli/run.ts';
import { TEST_SECRET_KEY } from '../helpers/server.ts';
import { helpText } from '../../src/cli/commands/index.ts';

describe('gatehouse CLI commands', () => {
  let database: TestDatabase;
  let ctx: CommandContext;

  before(async () => {
    database = await createTestDatabase();
    const config = loadConfig({ NODE_ENV: 'test', SECRET_KEY: TEST_SECRET_KEY, BCRYPT_COST: '4', DATA_DIR: '/nonexistent-test-data-dir' });
    ctx = commandContext(config, database);
  });

  beforeEach(() => truncateAll(database));

  after(async () => {
    await database?.dispose();
  });

  const run = (...argv: string[]) => runCommand(ctx, argv);
  async function json<T = Record<string, unknown>>(...argv: string[]): Promise<T> {
    const outcome = await run(...argv, '--json');
    assert.equal(outcome.exitCode, 0, `${argv.join(' ')}: ${outcome.stdout}${outcome.stderr}`);
    return JSON.parse(outcome.stdout) as T;
  }

  describe('users', () => {
    it('creates, lists, shows and deletes a user', async () => {
      const user = await json('users', 'create', '--email', 'Bob@Example.com', '--password', 'bob-password-1', '--name', 'Bob');
      assert.equal(user.email, 'Bob@Example.com');
      assert.equal(user.has_password, true);
      assert.equal(user.password_hash, undefined);
      assert.deepEqual(user.profile, { name: 'Bob' });
      const row = await database.db('users').where('id', String(user.id)).first();
      assert.match(row.password_hash, /^\$gh1\$\$2b\$04\$/);

      const listed = await json<{ id: string }[]>('users', 'list');
      assert.deepEqual(
        listed.map((u) => u.id),
        [user.id],
      );
      assert.equal((await json('users', 'show', 'bob@example.com')).id, user.id);
      assert.equal((await json('users', 'show', user.id as string)).email, 'Bob@Example.com');

      const human = await run('users', 'show', user.id as string);
      assert.match(human.stdout, /^id: +[0-9a-f-]{36}$/m);
      assert.match(human.stdout, /^email: +Bob@Example.com$/m);

      assert.deepEqual(await json('users', 'delete', 'bob@example.com'), { deleted: user.id });
      const gone = await run('users', 'show', user.id as string);
      assert.equal(gone.exitCode, 1);
      assert.equal(gone.stderr, `No user ${user.id}\n`);
    });

    it('refuses a second account for the same email in any case', async () => {
      await json('users', 'create', '--email', 'carol@example.com', '--password', 'granite sparrow orbit');
      const again = await run('users', 'create', '--email', 'CAROL@example.com', '--password', 'other-password');
      assert.equal(again.exitCode, 1);
      assert.equal(again.stderr, 'An account with this email already exists\n');
    });

    it('explains every invalid field at once', async () => {
      const outcome = await run('users', 'create', '--email', 'not-an-email', '--password', 'short', '--json');
      assert.equal(outcome.exitCode, 1);
      assert.deepEqual(JSON.parse(outcome.stdout), {
        error: 'Invalid input',
        problems: ['email: Enter a valid email address', 'password: Password must be at least 8 characters'],
      });
      const tooLong = await run('users', 'create', '--email', 'long@example.com', '--password', 'x'.repeat(1025));
      assert.match(tooLong.stderr, /Password must be at most 1024 characters/);
      assert.equal(Number((await database.db('users').whereRaw("email like 'long@%'").count('* as n').first())?.n), 0);
    });

    it('reads the password from standard input with --password-stdin', async () => {
      const user = JSON.parse(
        (await runCommand(ctx, ['users', 'create', '--email', 'dana@example.com', '--password-stdin', '--json'], 'sable thistle comet\n'))
          .stdout,
      );
      assert.equal(user.has_password, true);
      const missing = await run('users', 'create', '--email', 'erin@example.com');
      assert.equal(missing.stderr, '--password, --password-stdin or --password-hash is required\n');
    });
  });

  describe('clients', () => {
    it('creates a confidential client and shows its secret only once', async () => {
      const created = await json(
        'clients',
        'create',
        '--name',
        'Web App',
        '--redirect-uri',
        'https://app.example/cb',
        '--post-logout-redirect-uri',
        'https://app.example/bye',
      );
      // 128 random bits in hex: never starting with '-', so the id can follow any option.
      assert.match(created.client_id as string, /^[0-9a-f]{32}$/);
      assert.match(created.client_secret as string, /^[\w-]{43}$/);
      assert.deepEqual(created.grant_types, ['authorization_code', 'refresh_token']);
      assert.equal(created.token_endpoint_auth_method, 'client_secret_basic');

      const shown = await json('clients', 'show', created.client_id as string);
      assert.equal(shown.client_secret, undefined);
      assert.equal(shown.confidential, true);
      assert.deepEqual(shown.redirect_uris, ['https://app.example/cb']);
      assert.equal(shown.registered_by, 'cli');
      const listed = await json<{ client_id: string; client_secret?: string }[]>('clients', 'list');
      assert.deepEqual(
        listed.map((c) => [c.client_id, c.client_secret]),
        [[created.client_id, undefined]],
      );

      const stored = await database.db('clients').where('client_id', String(created.client_id)).first();
      assert.equal(stored.client_secret.startsWith('sha256:'), true);
      assert.ok(!JSON.stringify(stored).includes(created.client_secret as string));
    });

    it('creates a public client (PKCE, no secret) and a client-credentials client', async () => {
      const spa = await json('clients', 'create', '--name', 'SPA', '--redirect-uri', 'http://localhost:5173/cb', '--public');
      assert.equal(spa.token_endpoint_auth_method, 'none');
      assert.equal(spa.client_secret, undefined);
      const worker = await json(
        'clients',
        'create',
        '--name',
        'Worker',
        '--grant-type',
        'client_credentials',
        '--auth-method',
        'client_secret_post',
      );
      assert.deepEqual(worker.grant_types, ['client_credentials']);
      assert.deepEqual(worker.response_types, []);
      assert.equal(worker.token_endpoint_auth_method, 'client_secret_post');
    });

    it('refuses metadata the provider would refuse, and writes nothing', async () => {
      const before = Number((await database.db('clients').count('* as n').first())?.n);
      const cases: [string[], RegExp][] = [
        [['--name', 'X', '--redirect-uri', 'not a url'], /^Invalid client: redirect_uris must only contain valid uris\n$/],
        [['--name', 'X', '--redirect-uri', 'https://a.example/cb#frag'], /^Invalid client: redirect_uris must not contain fragments\n$/],
        [['--name', 'X', '--redirect-uri', 'https://a.example/cb', '--auth-method', 'magic'], /^--auth-method must be one of/],
        [['--redirect-uri', 'https://a.example/cb'], /^--name is required\n$/],
        [['--name', 'X', '--grant-type', 'authorization_code'], /^Invalid client: redirect_uris must contain members\n$/],
        [['--name', 'X', '--redirect-uri', 'https://a.example/cb', '--client-id', 'a b'], /^--client-id must be/],
      ];
      for (const [args, message] of cases) {
        const outcome = await run('clients', 'create', ...args);
        assert.equal(outcome.exitCode, 1, args.join(' '));
        assert.match(outcome.stderr, message, args.join(' '));
      }
      assert.equal(Number((await database.db('clients').count('* as n').first())?.n), before);
    });

    it('deletes a client and the tokens issued to it', async () => {
      const created = await json(
        'clients',
        'create',
        '--name',
        'Doomed',
        '--grant-type',
        'client_credentials',
        '--client-id',
        'doomed-client',
      );
      const duplicate = await run(
        'clients',
        'create',
        '--name',
        'Again',
        '--grant-type',
        'client_credentials',
        '--client-id',
        'doomed-client',
      );
      assert.equal(duplicate.stderr, 'A client with id doomed-client already exists\n');
      await database
        .db('oidc_payloads')
        .insert({ model: 'ClientCredentials', id: 'tok1', payload: JSON.stringify({ clientId: 'doomed-client' }) });
      assert.deepEqual(await json('clients', 'delete', created.client_id as string), { deleted: 'doomed-client' });
      assert.equal(await database.db('oidc_payloads').where('id', 'tok1').first(), undefined);
      const again = await run('clients', 'delete', 'doomed-client');
      assert.equal(again.stderr, 'No client with id doomed-client\n');
    });
  });

  describe('apis', () => {
    it('registers, lists, shows and deletes an API', async () => {
      const api = await json(
        'apis',
        'create',
        '--identifier',
        'https://api.example',
        '--name',
        'Main API',
        '--scope',
        'read',
        '--scope',
        'write',
        '--alg',
        'RS256',
        '--ttl',
        '900',
      );
      assert.deepEqual(
        { ...api, created_at: undefined },
        {
          identifier: 'https://api.example',
          name: 'Main API',
          scopes: ['read', 'write'],
          access_token_format: 'jwt',
          signing_alg: 'RS256',
          access_token_ttl: 900,
          resource_server_client_id: null,
          created_at: undefined,
        },
      );
      assert.equal((await json<unknown[]>('apis', 'list')).length, 1);
      assert.equal((await json('apis', 'show', 'https://api.example')).name, 'Main API');
      const duplicate = await run('apis', 'create', '--identifier', 'https://api.example', '--name', 'Again');
      assert.equal(duplicate.stderr, 'An API with identifier https://api.example already exists\n');
      const bad = await run('apis', 'create', '--identifier', 'not-a-uri', '--name', 'Bad', '--format', 'xml', '--ttl', '5');
      assert.equal(bad.exitCode, 1);
      assert.match(bad.stderr, /identifier: identifier must be an absolute URI/);
      assert.match(bad.stderr, /access_token_format: /);
      assert.match(bad.stderr, /access_token_ttl: /);
      const worker = await json('clients', 'create', '--name', 'API worker', '--grant-type', 'client_credentials');
      const granted = await json(
        'apis',
        'grant',
        '--api',
        'https://api.example',
        '--client',
        worker.client_id as string,
        '--scope',
        'read',
      );
      assert.deepEqual(granted.scopes, ['read']);
      assert.deepEqual((await json('apis', 'show', 'https://api.example')).clients, [{ client_id: worker.client_id, scopes: ['read'] }]);
      assert.deepEqual((await json('apis', 'grant', '--api', 'https://api.example', '--client', worker.client_id as string)).scopes, 'all');
      const badScope = await run(
        'apis',
        'grant',
        '--api',
        'https://api.example',
        '--client',
        worker.client_id as string,
        '--scope',
        'delete',
      );
      assert.equal(badScope.stderr, 'The API https://api.example does not define the scope delete\n');
      const badClient = await run('apis', 'grant', '--api', 'https://api.example', '--client', 'nobody');
      assert.equal(badClient.stderr, 'No client nobody\n');
      assert.deepEqual(await json('apis', 'revoke', '--api', 'https://api.example', '--client', worker.client_id as string), {
        revoked: { client_id: worker.client_id, resource: 'https://api.example' },
      });
      assert.match(
        (await run('apis', 'revoke', '--api', 'https://api.example', '--client', worker.client_id as string)).stderr,
        /has no access/,
      );
      assert.deepEqual(await json('apis', 'delete', 'https://api.example'), { deleted: 'https://api.example' });
    });
  });

  describe('token policies', () => {
    // Each test has an API of its own, so none depends on what another left behind.
    const createApi = (identifier: string, ...extra: string[]) =>
      json('apis', 'create', '--identifier', identifier, '--name', 'Ledger', '--scope', 'ledger:read', ...extra);
    const worker = (...extra: string[]) => json('clients', 'create', '--name', 'Worker', '--grant-type', 'client_credentials', ...extra);

    it("names an API's resource server client at creation or later, and refuses one that cannot authenticate", async () => {
      const ledgerClient = await worker();
      const api = await createApi('https://ledger.example', '--resource-server-client', ledgerClient.client_id as string);
      assert.equal(api.resource_server_client_id, ledgerClient.client_id);
      assert.equal((await json('apis', 'show', 'https://ledger.example')).resource_server_client_id, ledgerClient.client_id);

      const spa = await json('clients', 'create', '--name', 'SPA', '--redirect-uri', 'http://localhost:5173/cb', '--public');
      const refusals: [string[], string][] = [
        [
          ['--api', 'https://ledger.example', '--client', spa.client_id as string],
          `Client ${spa.client_id} is public (it has no credentials), so it cannot be an API's resource server\n`,
        ],
        [['--api', 'https://ledger.example', '--client', 'nobody'], 'No client nobody\n'],
        [['--api', 'https://nowhere.example', '--none'], 'No API https://nowhere.example\n'],
        [['--api', 'https://ledger.example'], 'Give either --client CLIENT_ID or --none\n'],
        [['--api', 'https://ledger.example', '--client', 'x', '--none'], 'Give either --client CLIENT_ID or --none\n'],
      ];
      for (const [args, message] of refusals) {
        const outcome = await run('apis', 'resource-server', ...args);
        assert.equal(outcome.exitCode, 1, args.join(' '));
        assert.equal(outcome.stderr, message, args.join(' '));
      }
      const atCreation = await run(
        'apis',
        'create',
        '--identifier',
        'https://other.example',
        '--name',
        'Other',
        '--resource-server-client',
        spa.client_id as string,
      );
      assert.equal(
        atCreation.stderr,
        `Client ${spa.client_id} is public (it has no credentials), so it cannot be an API's resource server\n`,
      );
      assert.equal(await database.db('resource_servers').where('identifier', 'https://other.example').first(), undefined);

      assert.equal((await json('apis', 'resource-server', '--api', 'https://ledger.example', '--none')).resource_server_client_id, null);
      const renamed = await json(
        'apis',
        'resource-server',
        '--api',
        'https://ledger.example',
        '--client',
        ledgerClient.client_id as string,
      );
      assert.equal(renamed.resource_server_client_id, ledgerClient.client_id);
      // Deleting the client clears it from the API.
      await json('clients', 'delete', ledgerClient.client_id as string);
      assert.equal((await json('apis', 'show', 'https://ledger.example')).resource_server_client_id, null);
    });

    it('gives a client a default API, which must be registered, and forgets it when the API goes', async () => {
      await createApi('https://ledger2.example');
      const created = await worker('--default-api', 'https://ledger2.example');
      assert.equal(created.default_resource, 'https://ledger2.example');
      assert.equal((await json('clients', 'show', created.client_id as string)).default_resource, 'https://ledger2.example');
      const unknown = await run(
        'clients',
        'create',
        '--name',
        'Lost',
        '--grant-type',
        'client_credentials',
        '--default-api',
        'https://nowhere.example',
      );
      assert.equal(unknown.exitCode, 1);
      assert.equal(unknown.stderr, 'Invalid client: default_resource https://nowhere.example is not a registered API\n');
      const malformed = await run('clients', 'create', '--name', 'Lost', '--grant-type', 'client_credentials', '--default-api', 'ledger');
      assert.equal(malformed.stderr, 'Invalid client: default_resource must be an absolute URI without a fragment\n');
      await json('apis', 'delete', 'https://ledger2.example');
      assert.equal((await json('clients', 'show', created.client_id as string)).default_resource, null);
    });

    it('accepts the scopes of registered APIs in --scope, and no others', async () => {
      await createApi('https://ledger3.example');
      const app = await json(
        'clients',
        'create',
        '--name',
        'App',
        '--redirect-uri',
        'https://app.example/cb',
        '--scope',
        'openid ledger:read',
      );
      assert.equal(app.scope, 'openid ledger:read');
      assert.equal((await json('clients', 'show', app.client_id as string)).scope, 'openid ledger:read');
      const unknown = await run(
        'clients',
        'create',
        '--name',
        'App',
        '--redirect-uri',
        'https://app.example/cb',
        '--scope',
        'openid ledger:write',
      );
      assert.equal(unknown.exitCode, 1);
      assert.equal(
        unknown.stderr,
        'Invalid client: scope must only contain OpenID scopes and scopes of registered APIs; not known: ledger:write\n',
      );
    });

    it('lets a confidential client off PKCE only when asked, and never a public one', async () => {
      const legacy = await json(
        'clients',
        'create',
        '--name',
        'Legacy',
        '--redirect-uri',
        'https://legacy.example/cb',
        '--allow-code-without-pkce',
      );
      assert.equal(legacy.allow_code_without_pkce, true);
      assert.equal((await json('clients', 'show', legacy.client_id as string)).allow_code_without_pkce, true);
      const modern = await json('clients', 'create', '--name', 'Modern', '--redirect-uri', 'https://modern.example/cb');
      assert.equal((await json('clients', 'show', modern.client_id as string)).allow_code_without_pkce, false);
      const spa = await run(
        'clients',
        'create',
        '--name',
        'SPA',
        '--redirect-uri',
        'http://localhost:5173/cb',
        '--public',
        '--allow-code-without-pkce',
      );
      assert.equal(spa.exitCode, 1);
      assert.equal(spa.stderr, 'Invalid client: allow_code_without_pkce is not allowed for a public client: it must use PKCE\n');
    });
  });

  describe('keys and migrations', () => {
    it('rotates keys and lists them without secrets', async () => {
      const { ensureKeys } = await import('../../src/oidc/keys.ts');
      await ensureKeys(database.db, ctx.box);
      const rotated = await json<{ created: { alg: string | null }[]; retired: unknown[] }>('keys', 'rotate');
      assert.deepEqual(rotated.created.map((k) => k.alg).sort(), ['ES256', 'RS256', null].sort());
      assert.equal(rotated.retired.length, 3);
      const listed = await json<{ state: string; secret?: string }[]>('keys', 'list');
      assert.equal(listed.filter((k) => k.state === 'current').length, 3);
      assert.ok(listed.every((k) => k.secret === undefined));
      const badAlg = await run('keys', 'rotate', '--alg', 'HS256');
      assert.equal(badAlg.stderr, 'Unsupported --alg HS256; choose from RS256, ES256, PS256\n');
    });

    it('reports migrations as already applied', async () => {
      assert.deepEqual(await json('migrate'), { applied: [] });
    });
  });

  describe('usage mistakes', () => {
    it('names an unknown command, a wrong flag and a missing argument', async () => {
      assert.equal((await run('frobnicate')).stderr, 'Unknown command: frobnicate. Run "gatehouse help".\n');
      const flag = await run('users', 'list', '--colour');
      assert.match(flag.stderr, /Unknown option '--colour'/);
      assert.match(flag.stderr, /Usage: gatehouse users list/);
      assert.match((await run('users', 'show')).stderr, /Expected ID_OR_EMAIL\.\nUsage: gatehouse users show ID_OR_EMAIL/);
      assert.match(helpText(), /clients create/);
    });
  });
});
