// `gatehouse connections …`: the upstream identity providers users may sign in through. The
// upstream client secret comes from standard input (or, less safely, the command line) or, for an
// import, from the environment variables the file names; it is sealed and never printed.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command, Values } from '../command.ts';
import { list, str } from '../command.ts';
import { CommandError } from '../context.ts';
import { createConnection, deleteConnection, getConnection, listConnections } from '../../federation/index.ts';
import {
  importConnections,
  linkedUserCount,
  parseConnectionsFile,
  type SecretVariables,
  secretVariablesOf,
  updateConnectionAtVersion,
} from '../../federation/index.ts';

/** The flags create and update share: what a connection is, besides its id and type. */
const CONNECTION_OPTIONS = {
  name: { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'client-secret-stdin': { type: 'boolean' },
  scope: { type: 'string', multiple: true },
  'auth-method': { type: 'string' },
  client: { type: 'string', multiple: true },
  domain: { type: 'string', multiple: true },
  'no-jit': { type: 'boolean' },
  linking: { type: 'string' },
  'claims-update': { type: 'string' },
  map: { type: 'string', multiple: true },
} as const;

const SHARED_USAGE =
  '[--client-secret-stdin | --client-secret S] [--scope S ...] [--auth-method client_secret_basic|client_secret_post|none] [--client CLIENT_ID ...] [--domain example.com ...] [--no-jit] [--linking verified_email_with_proof|never] [--claims-update on_sign_in|never] [--map attribute=claim ...]';

const UPDATE_USAGE = `connections update ID [--name NAME] [--issuer URL] [--client-id ID] ${SHARED_USAGE} [--no-client-secret] [--all-clients] [--no-domains] [--no-map] [--jit] [--enable | --disable]`;

function refuseTogether(values: Values, ...flags: string[]): void {
  const given = flags.filter((flag) => values[flag] !== undefined);
  if (given.length > 1) throw new CommandError(`${given.map((f) => `--${f}`).join(' and ')} cannot be combined`);
}

/** Every missing flag at once, not one per attempt. */
function requireFlags(values: Values, ...flags: string[]): void {
  const missing = flags.filter((flag) => !str(values[flag]));
  if (missing.length)
    throw new CommandError(
      'Missing options',
      missing.map((flag) => `--${flag} is required`),
    );
}

/** The secret from stdin (a trailing newline is not part of it) or the command line; undefined: none given. */
function clientSecretOf(values: Values, stdin: string): string | undefined {
  refuseTogether(values, 'client-secret', 'client-secret-stdin');
  if (!values['client-secret-stdin']) return str(values['client-secret']);
  const secret = stdin.replace(/\r?\n$/, '');
  if (!secret) throw new CommandError('--client-secret-stdin: standard input held no secret');
  return secret;
}

/** --map given_name=first_name … as a mapping; undefined when none was given. */
function mappingOf(values: Values): Record<string, string> | undefined {
  const pairs = list(values.map);
  if (!pairs.length) return undefined;
  const mapping: Record<string, string> = {};
  for (const pair of pairs) {
    const [attribute, claim] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
    if (!pair.includes('=') || !attribute || !claim)
      throw new CommandError(`--map ${pair}: write attribute=claim, such as given_name=given_name`);
    if (attribute in mapping) throw new CommandError(`--map ${attribute} is given more than once`);
    mapping[attribute] = claim;
  }
  return mapping;
}

/** The upstream settings the flags name (only those given: an update keeps the rest). */
function settingsOf(values: Values): Record<string, unknown> {
  const scopes = list(values.scope);
  return {
    ...(values.issuer !== undefined && { issuer: str(values.issuer) }),
    ...(values['client-id'] !== undefined && { client_id: str(values['client-id']) }),
    ...(scopes.length && { scopes }),
    ...(values['auth-method'] !== undefined && { token_endpoint_auth_method: str(values['auth-method']) }),
  };
}

/** The connection fields the shared flags name (only those given), validated by the service. */
function fieldsOf(values: Values): Record<string, unknown> {
  const clients = list(values.client);
  const domains = list(values.domain);
  const mapping = mappingOf(values);
  return {
    ...(values.name !== undefined && { display_name: str(values.name) }),
    ...(clients.length && { clients }),
    ...(domains.length && { domains }),
    ...(values.linking !== undefined && { linking: str(values.linking) }),
    ...(values['claims-update'] !== undefined && { claims_update: str(values['claims-update']) }),
    ...(mapping && { mapping }),
  };
}

/** Flags that set a field to one of two values (--enable/--disable); undefined: neither given. */
function toggle(values: Values, on: string, off: string): boolean | undefined {
  refuseTogether(values, on, off);
  return values[on] ? true : values[off] ? false : undefined;
}

/** An update's input: only what the flags change. */
function changesOf(values: Values, stdin: string): Record<string, unknown> {
  refuseTogether(values, 'client', 'all-clients');
  refuseTogether(values, 'domain', 'no-domains');
  refuseTogether(values, 'map', 'no-map');
  refuseTogether(values, 'client-secret', 'client-secret-stdin', 'no-client-secret');
  const settings = settingsOf(values);
  const enabled = toggle(values, 'enable', 'disable');
  const jit = toggle(values, 'jit', 'no-jit');
  const secret = clientSecretOf(values, stdin);
  return {
    ...fieldsOf(values),
    ...(Object.keys(settings).length && { settings }),
    ...(enabled !== undefined && { enabled }),
    ...(jit !== undefined && { jit }),
    ...(values['all-clients'] && { clients: null }),
    ...(values['no-domains'] && { domains: [] }),
    ...(values['no-map'] && { mapping: {} }),
    ...(secret !== undefined && { client_secret: secret }),
    ...(values['no-client-secret'] && { client_secret: null }),
  };
}

/** What `connections import` hands over: the file's text and the variables it names, read here. */
interface GatheredFile {
  file: string;
  source?: string;
  unreadable?: string;
  variables: SecretVariables;
}

async function gatherImportFile(file: string, env: NodeJS.ProcessEnv): Promise<string> {
  let gathered: GatheredFile;
  try {
    const source = await readFile(resolve(file), 'utf8');
    let names: string[] = [];
    try {
      names = secretVariablesOf(parseConnectionsFile(file, source));
    } catch {
      // The import reports the file as not valid; nothing to read for it.
    }
    gathered = { file, source, variables: Object.fromEntries(names.filter((n) => env[n] !== undefined).map((n) => [n, env[n]])) };
  } catch (error) {
    gathered = { file, unreadable: (error as NodeJS.ErrnoException).code ?? (error as Error).message, variables: {} };
  }
  return JSON.stringify(gathered);
}

export const CONNECTIONS_COMMANDS: Command[] = [
  {
    name: 'connections create',
    summary: 'Connect an upstream OpenID provider users may sign in through; its client secret is sealed and never shown',
    usage: `connections create --id ID --type oidc --name NAME --issuer URL --client-id ID ${SHARED_USAGE} [--disabled]`,
    options: { ...CONNECTION_OPTIONS, id: { type: 'string' }, type: { type: 'string' }, disabled: { type: 'boolean' } },
    readsStdin: (values) => Boolean(values['client-secret-stdin']),
    stdinPrompt: 'Client secret: ',
    async run(ctx, values, _positionals, stdin) {
      requireFlags(values, 'id', 'type', 'name', 'issuer', 'client-id');
      const secret = clientSecretOf(values, stdin);
      return createConnection(ctx.service, ctx.box, {
        id: str(values.id),
        type: str(values.type),
        ...fieldsOf(values),
        settings: settingsOf(values),
        jit: !values['no-jit'],
        enabled: !values.disabled,
        ...(secret !== undefined && { client_secret: secret }),
      });
    },
  },
  {
    name: 'connections list',
    summary: 'List connections to upstream identity providers (never their secrets)',
    usage: 'connections list',
    run: (ctx) => listConnections(ctx.database.db),
  },
  {
    name: 'connections show',
    summary: 'Show a connection and how many users are linked through it',
    usage: 'connections show ID',
    positionals: ['ID'],
    async run(ctx, _values, [id]) {
      const connection = await getConnection(ctx.database.db, id);
      return { ...connection, linked_users: await linkedUserCount(ctx.database.db, id) };
    },
  },
  {
    name: 'connections update',
    summary: 'Change some of a connection’s settings; the others stay as they are',
    usage: UPDATE_USAGE,
    options: {
      ...CONNECTION_OPTIONS,
      'no-client-secret': { type: 'boolean' },
      'all-clients': { type: 'boolean' },
      'no-domains': { type: 'boolean' },
      'no-map': { type: 'boolean' },
      jit: { type: 'boolean' },
      enable: { type: 'boolean' },
      disable: { type: 'boolean' },
    },
    positionals: ['ID'],
    readsStdin: (values) => Boolean(values['client-secret-stdin']),
    stdinPrompt: 'Client secret: ',
    async run(ctx, values, [id], stdin) {
      const changes = changesOf(values, stdin);
      if (!Object.keys(changes).length)
        throw new CommandError(`Nothing to change: give at least one option.\nUsage: gatehouse ${UPDATE_USAGE}`);
      return updateConnectionAtVersion(ctx.service, ctx.box, id, changes);
    },
  },
  {
    name: 'connections delete',
    summary: 'Delete a connection; the users linked through it keep their accounts, not the link',
    usage: 'connections delete ID',
    positionals: ['ID'],
    async run(ctx, _values, [id]) {
      await deleteConnection(ctx.service, id);
      return { deleted: id };
    },
  },
  {
    name: 'connections import',
    summary: 'Create or update the connections a JSON or YAML file declares, all or none; secrets come from client_secret_env variables',
    usage: 'connections import FILE',
    positionals: ['FILE'],
    gatherInput: (_values, [file], env) => gatherImportFile(file, env),
    async run(ctx, _values, _positionals, stdin) {
      if (!stdin) throw new CommandError('connections import reads its file where gatehouse runs; nothing was handed over');
      const gathered = JSON.parse(stdin) as GatheredFile;
      if (gathered.unreadable) throw new CommandError(`Cannot read ${gathered.file} (${gathered.unreadable})`);
      const document = parseConnectionsFile(gathered.file, gathered.source ?? '');
      return importConnections(ctx.service, ctx.box, document, gathered.variables);
    },
  },
];
