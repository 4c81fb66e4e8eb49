// The CLI's commands, one table. Each declares its flags and returns data; output.ts prints the
// data for people or, with --json, as one JSON document.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ZodError } from 'zod';
import type { CommandContext } from './context.ts';
import { CommandError } from './context.ts';
import { migrate } from '../db/migrate.ts';
import { KEY_RELOAD_INTERVAL_SECONDS, rotateKeys, SIGNING_ALGS, type SigningAlg } from '../oidc/keys.ts';
import { TTL } from '../oidc/features/core.ts';
import { registerClient } from './clientRegistration.ts';
import { createUser, deleteUser, EmailTakenError, findUser, listUsers, publicUser } from '../accounts/index.ts';
import {
  createResourceServer,
  deleteResourceServer,
  findResourceServer,
  listResourceServers,
  longestJwtLifetime,
  ResourceServerExistsError,
  UnknownScopeError,
  UnknownClientOrApiError,
  grantApiAccess,
  revokeApiAccess,
  listApiAccess,
  ResourceServerClientError,
  setResourceServerClient,
} from '../oidc/resourceServers.ts';
import { audit } from '../audit/index.ts';
import { SECRETS_COMMANDS } from './secrets.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options?: Options;
  positionals?: string[];
  /** Set when the command reads a secret from standard input (the CLI sends it along). */
  readsStdin?: (values: Values) => boolean;
  run(ctx: CommandContext, values: Values, positionals: string[], stdin: string): Promise<unknown>;
}

const list = (value: unknown) => (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);
const str = (value: unknown) => (typeof value === 'string' ? value : undefined);

function required(values: Values, name: string): string {
  const value = str(values[name]);
  if (!value) throw new CommandError(`--${name} is required`);
  return value;
}

function zodProblems(error: ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
}

async function withValidation<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ZodError) throw new CommandError('Invalid input', zodProblems(error));
    if (
      [EmailTakenError, ResourceServerExistsError, UnknownScopeError, UnknownClientOrApiError, ResourceServerClientError].some(
        (type) => error instanceof type,
      )
    ) {
      throw new CommandError((error as Error).message);
    }
    throw error;
  }
}

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'];

export const COMMANDS: Command[] = [
  {
    name: 'migrate',
    summary: 'Apply database migrations (the server also does this at start)',
    usage: 'migrate',
    async run(ctx) {
      const applied = await migrate(ctx.database.db, ctx.database.url);
      return { applied };
    },
  },
  {
    name: 'keys rotate',
    summary:
      'Replace the signing and cookie keys. On a PostgreSQL server new keys are published 60 s before they sign (--now: at once); retired keys stay published until what they signed expires',
    usage: 'keys rotate [--alg RS256 --alg ES256] [--now]',
    options: { alg: { type: 'string', multiple: true }, now: { type: 'boolean' } },
    async run(ctx, values) {
      const algs = list(values.alg);
      const bad = algs.filter((a) => !(SIGNING_ALGS as readonly string[]).includes(a));
      if (bad.length) throw new CommandError(`Unsupported --alg ${bad.join(', ')}; choose from ${SIGNING_ALGS.join(', ')}`);
      const signingRetentionSeconds = (await longestJwtLifetime(ctx.database.db, TTL.IdToken)) + 300;
      // Several instances may share a server: give each time to publish the new keys first.
      // The embedded database has exactly one.
      const shared = ctx.database.kind === 'postgres' && !values.now;
      const policy = {
        signingRetentionSeconds,
        cookieRetentionSeconds: TTL.Session,
        activationDelaySeconds: shared ? 2 * KEY_RELOAD_INTERVAL_SECONDS : 0,
      };
      const result = await rotateKeys(ctx.database.db, ctx.box, policy, algs.length ? (algs as SigningAlg[]) : undefined);
      await audit(ctx.database.db, { type: 'keys.rotated', details: { created: result.created.map((k) => k.kid) } });
      await ctx.afterKeyRotation?.();
      return result;
    },
  },
  {
    name: 'keys list',
    summary: 'List signing and cookie keys (never their secret parts)',
    usage: 'keys list',
    async run(ctx) {
      const rows = await ctx.database
        .db('keys')
        .select('kid', 'kind', 'alg', 'state', 'created_at', 'retired_at', 'expires_at')
        .orderBy('created_at', 'desc');
      return rows;
    },
  },
  ...SECRETS_COMMANDS,
  {
    name: 'clients create',
    summary: 'Register a client; prints its id and, for confidential clients, its secret (shown once)',
    usage:
      'clients create --name NAME --redirect-uri URI [--redirect-uri URI] [--post-logout-redirect-uri URI] [--grant-type TYPE]... [--public | --auth-method METHOD] [--scope "openid profile"] [--native] [--client-id ID] [--default-api URI] [--allow-code-without-pkce]',
    options: {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'grant-type': { type: 'string', multiple: true },
      public: { type: 'boolean' },
      'auth-method': { type: 'string' },
      scope: { type: 'string' },
      native: { type: 'boolean' },
      'client-id': { type: 'string' },
      'default-api': { type: 'string' },
      'allow-code-without-pkce': { type: 'boolean' },
    },
    async run(ctx, values) {
      const authMethod = values.public ? 'none' : (str(values['auth-method']) ?? 'client_secret_basic');
      if (!AUTH_METHODS.includes(authMethod)) throw new CommandError(`--auth-method must be one of ${AUTH_METHODS.join(', ')}`);
      const redirectUris = list(values['redirect-uri']);
      const grantTypes = list(values['grant-type']);
      const effectiveGrants = grantTypes.length
        ? grantTypes
        : redirectUris.length
          ? ['authorization_code', 'refresh_token']
          : ['client_credentials'];
      const clientId = str(values['client-id']);
      if (clientId !== undefined && !/^[\w.~-]{3,100}$/.test(clientId))
        throw new CommandError('--client-id must be 3-100 characters of letters, digits, . _ ~ -');
      const created = await registerClient(ctx, {
        name: required(values, 'name'),
        redirectUris,
        postLogoutRedirectUris: list(values['post-logout-redirect-uri']),
        grantTypes: effectiveGrants,
        authMethod,
        scope: str(values.scope),
        applicationType: values.native ? 'native' : 'web',
        clientId,
        defaultApi: str(values['default-api']),
        allowCodeWithoutPkce: Boolean(values['allow-code-without-pkce']),
      });
      await audit(ctx.database.db, { type: 'client.created', clientId: created.client_id, details: { via: 'cli' } });
      return created.client_secret ? { ...created.metadata, client_secret: created.client_secret } : created.metadata;
    },
  },
  {
    name: 'clients list',
    summary: 'List clients',
    usage: 'clients list',
    async run(ctx) {
      return (await ctx.clients.list()).map(({ client_secret, metadata, ...row }) => ({ ...row, confidential: Boolean(client_secret) }));
    },
  },
  {
    name: 'clients show',
    summary: 'Show one client (never its secret)',
    usage: 'clients show CLIENT_ID',
    positionals: ['CLIENT_ID'],
    async run(ctx, _values, [clientId]) {
      const row = await ctx.clients.get(clientId);
      if (!row) throw new CommandError(`No client with id ${clientId}`);
      const { client_secret, ...rest } = row;
      return { ...rest, confidential: Boolean(client_secret) };
    },
  },
  {
    name: 'clients delete',
    summary: 'Delete a client and every token issued to it',
    usage: 'clients delete CLIENT_ID',
    positionals: ['CLIENT_ID'],
    async run(ctx, _values, [clientId]) {
      if (!(await ctx.clients.delete(clientId))) throw new CommandError(`No client with id ${clientId}`);
      await audit(ctx.database.db, { type: 'client.deleted', clientId });
      return { deleted: clientId };
    },
  },
  {
    name: 'users create',
    summary: 'Create a user; the password comes from --password or, safer, --password-stdin',
    usage:
      'users create --email EMAIL (--password PASSWORD | --password-stdin) [--name NAME] [--given-name N] [--family-name N] [--email-verified]',
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      name: { type: 'string' },
      'given-name': { type: 'string' },
      'family-name': { type: 'string' },
      'email-verified': { type: 'boolean' },
    },
    readsStdin: (values) => Boolean(values['password-stdin']),
    async run(ctx, values, _positionals, stdin) {
      const password = values['password-stdin'] ? stdin.replace(/\r?\n$/, '') : str(values.password);
      if (!password) throw new CommandError('--password or --password-stdin is required');
      const profile = Object.fromEntries(
        [
          ['name', values.name],
          ['given_name', values['given-name']],
          ['family_name', values['family-name']],
        ].filter(([, v]) => typeof v === 'string'),
      );
      const user = await withValidation(() =>
        createUser(
          ctx.database.db,
          { email: required(values, 'email'), password, emailVerified: Boolean(values['email-verified']), profile },
          ctx.config.bcryptCost,
        ),
      );
      await audit(ctx.database.db, { type: 'user.created', userId: user.id, details: { via: 'cli' } });
      return publicUser(user);
    },
  },
  {
    name: 'users list',
    summary: 'List users',
    usage: 'users list [--limit N] [--offset N]',
    options: { limit: { type: 'string' }, offset: { type: 'string' } },
    async run(ctx, values) {
      const limit = Number(values.limit ?? 100);
      const offset = Number(values.offset ?? 0);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CommandError('--limit must be a whole number from 1 to 1000');
      if (!Number.isInteger(offset) || offset < 0) throw new CommandError('--offset must be a whole number, 0 or more');
      return (await listUsers(ctx.database.db, { limit, offset })).map(publicUser);
    },
  },
  {
    name: 'users show',
    summary: 'Show a user by id or email',
    usage: 'users show ID_OR_EMAIL',
    positionals: ['ID_OR_EMAIL'],
    async run(ctx, _values, [who]) {
      const user = await findUser(ctx.database.db, who);
      if (!user) throw new CommandError(`No user ${who}`);
      return publicUser(user);
    },
  },
  {
    name: 'users delete',
    summary: 'Delete a user, their sessions and every token issued to them',
    usage: 'users delete ID_OR_EMAIL',
    positionals: ['ID_OR_EMAIL'],
    async run(ctx, _values, [who]) {
      const user = await findUser(ctx.database.db, who);
      if (!user || !(await deleteUser(ctx.database.db, user.id))) throw new CommandError(`No user ${who}`);
      await audit(ctx.database.db, { type: 'user.deleted', userId: user.id });
      return { deleted: user.id };
    },
  },
  {
    name: 'apis create',
    summary: 'Register an API (resource server) that clients can get access tokens for',
    usage:
      'apis create --identifier https://api.example.com --name NAME [--scope read --scope write] [--format jwt|opaque] [--alg ES256|RS256|PS256] [--ttl SECONDS] [--resource-server-client CLIENT_ID]',
    options: {
      identifier: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      format: { type: 'string' },
      alg: { type: 'string' },
      ttl: { type: 'string' },
      'resource-server-client': { type: 'string' },
    },
    async run(ctx, values) {
      const api = await withValidation(() =>
        createResourceServer(ctx.database.db, {
          identifier: required(values, 'identifier'),
          name: required(values, 'name'),
          scopes: list(values.scope),
          accessTokenFormat: (str(values.format) ?? 'jwt') as 'jwt',
          signingAlg: (str(values.alg) ?? 'ES256') as 'ES256',
          accessTokenTtl: values.ttl === undefined ? undefined : Number(values.ttl),
          resourceServerClient: str(values['resource-server-client']),
        }),
      );
      await audit(ctx.database.db, {
        type: 'api.created',
        details: { identifier: api.identifier, resource_server_client_id: api.resource_server_client_id },
      });
      return api;
    },
  },
  {
    name: 'apis list',
    summary: 'List APIs',
    usage: 'apis list',
    run: (ctx) => listResourceServers(ctx.database.db),
  },
  {
    name: 'apis show',
    summary: 'Show one API and the clients allowed machine-to-machine access to it',
    usage: 'apis show IDENTIFIER',
    positionals: ['IDENTIFIER'],
    async run(ctx, _values, [identifier]) {
      const api = await findResourceServer(ctx.database.db, identifier);
      if (!api) throw new CommandError(`No API ${identifier}`);
      const access = await listApiAccess(ctx.database.db, identifier);
      return { ...api, clients: access.map((a) => ({ client_id: a.client_id, scopes: a.scopes ?? 'all' })) };
    },
  },
  {
    name: 'apis grant',
    summary: 'Allow a client to get client-credentials tokens for an API (all its scopes, or those named)',
    usage: 'apis grant --api IDENTIFIER --client CLIENT_ID [--scope S ...]',
    options: { api: { type: 'string' }, client: { type: 'string' }, scope: { type: 'string', multiple: true } },
    async run(ctx, values) {
      const scopes = list(values.scope);
      const access = await withValidation(() =>
        grantApiAccess(ctx.database.db, required(values, 'client'), required(values, 'api'), scopes.length ? scopes : null),
      );
      await audit(ctx.database.db, {
        type: 'api.access_granted',
        clientId: access.client_id,
        details: { resource: access.resource, scopes: access.scopes },
      });
      return { ...access, scopes: access.scopes ?? 'all' };
    },
  },
  {
    name: 'apis resource-server',
    summary: "Name the client an API runs as: besides a token's own client, the only one that may introspect tokens for the API",
    usage: 'apis resource-server --api IDENTIFIER (--client CLIENT_ID | --none)',
    options: { api: { type: 'string' }, client: { type: 'string' }, none: { type: 'boolean' } },
    async run(ctx, values) {
      const clientId = str(values.client);
      if (Boolean(clientId) === Boolean(values.none)) throw new CommandError('Give either --client CLIENT_ID or --none');
      const api = await withValidation(() => setResourceServerClient(ctx.database.db, required(values, 'api'), clientId ?? null));
      await audit(ctx.database.db, {
        type: 'api.resource_server_changed',
        clientId: api.resource_server_client_id ?? undefined,
        details: { identifier: api.identifier, resource_server_client_id: api.resource_server_client_id },
      });
      return api;
    },
  },
  {
    name: 'apis revoke',
    summary: "Withdraw a client's machine-to-machine access to an API",
    usage: 'apis revoke --api IDENTIFIER --client CLIENT_ID',
    options: { api: { type: 'string' }, client: { type: 'string' } },
    async run(ctx, values) {
      const clientId = required(values, 'client');
      const resource = required(values, 'api');
      if (!(await revokeApiAccess(ctx.database.db, clientId, resource)))
        throw new CommandError(`Client ${clientId} has no access to ${resource}`);
      await audit(ctx.database.db, { type: 'api.access_revoked', clientId, details: { resource } });
      return { revoked: { client_id: clientId, resource } };
    },
  },
  {
    name: 'apis delete',
    summary: 'Delete an API',
    usage: 'apis delete IDENTIFIER',
    positionals: ['IDENTIFIER'],
    async run(ctx, _values, [identifier]) {
      if (!(await deleteResourceServer(ctx.database.db, identifier))) throw new CommandError(`No API ${identifier}`);
      await audit(ctx.database.db, { type: 'api.deleted', details: { identifier } });
      return { deleted: identifier };
    },
  },
];

export interface ParsedCommand {
  command: Command;
  values: Values;
  positionals: string[];
  json: boolean;
}

/** Finds the command named by the first words of argv and parses its flags. */
export function parseCommand(argv: string[]): ParsedCommand {
  const command = [...COMMANDS]
    .sort((a, b) => b.name.length - a.name.length)
    .find((c) => {
      const words = c.name.split(' ');
      return words.every((word, i) => argv[i] === word);
    });
  if (!command)
    throw new CommandError(
      `Unknown command: ${
        argv
          .filter((a) => !a.startsWith('-'))
          .slice(0, 2)
          .join(' ') || '(none)'
      }. Run "gatehouse help".`,
    );
  const rest = argv.slice(command.name.split(' ').length);
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: { ...command.options, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CommandError(`${(error as Error).message.split('\n')[0]}\nUsage: gatehouse ${command.usage}`);
  }
  const expected = command.positionals ?? [];
  if (parsed.positionals.length !== expected.length) {
    throw new CommandError(`Expected ${expected.length ? expected.join(' ') : 'no arguments'}.\nUsage: gatehouse ${command.usage}`);
  }
  const { json, ...values } = parsed.values as Values;
  return { command, values, positionals: parsed.positionals, json: Boolean(json) };
}

export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: gatehouse <command> [options] [--json]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command accepts --json for machine-readable output.',
  ].join('\n');
}
