// `gatehouse connections …`: the upstream identity providers users may sign in through, of every
// type (OpenID Connect, OAuth 2.0, SAML) and preset. What the flags name on this machine (files,
// the IdP's metadata URL, a secret on standard input) is read in the operator's process and
// handed to the command (connections/handedOver.ts); the flags of each type are in
// connections/flags.ts, the service's input made from them in connections/input.ts. A secret
// (client secret, Apple .p8 key, SAML private key) is sealed by the service and never printed.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command, Values } from '../command.ts';
import { str } from '../command.ts';
import { CommandError } from '../context.ts';
import {
  CONNECTION_TYPES,
  createConnection,
  deleteConnection,
  getConnection,
  importConnections,
  linkedUserCount,
  listConnections,
  parseConnectionsFile,
  type SecretVariables,
  secretVariablesOf,
  updateConnectionAtVersion,
} from '../../federation/index.ts';
import { type ConnectionType, CREATE_OPTIONS, CREATE_USAGE, refuseOtherTypes, UPDATE_OPTIONS, UPDATE_USAGE } from './connections/flags.ts';
import { gatherConnectionInput, openHandedOver } from './connections/handedOver.ts';
import { changesOf, newConnectionOf } from './connections/input.ts';

/** Every missing flag at once, not one per attempt (what each type needs, the service says). */
function requireFlags(values: Values, ...flags: string[]): void {
  const missing = flags.filter((flag) => !str(values[flag]));
  if (missing.length)
    throw new CommandError(
      'Missing options',
      missing.map((flag) => `--${flag} is required`),
    );
}

const isConnectionType = (type: string | undefined): type is ConnectionType => (CONNECTION_TYPES as readonly unknown[]).includes(type);

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
    summary: 'Connect an upstream identity provider (oidc, oauth2 or saml, with its preset); its secret is sealed and never shown',
    usage: CREATE_USAGE,
    options: CREATE_OPTIONS,
    stdinPrompt: 'Client secret: ',
    gatherInput: (values, _positionals, _env, readStdin) => gatherConnectionInput(values, readStdin),
    async run(ctx, values, _positionals, stdin) {
      requireFlags(values, 'id', 'type', 'name');
      const type = str(values.type);
      // An unknown type is the service's to refuse, with everything else that is wrong.
      if (isConnectionType(type)) refuseOtherTypes(values, type);
      const gathered = openHandedOver('connections create', stdin, values);
      return createConnection(ctx.service, ctx.box, newConnectionOf(values, gathered));
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
    summary: 'Change some of a connection’s settings (or read its IdP metadata again); the others stay as they are',
    usage: UPDATE_USAGE,
    options: UPDATE_OPTIONS,
    positionals: ['ID'],
    stdinPrompt: 'Client secret: ',
    gatherInput: (values, _positionals, _env, readStdin) => gatherConnectionInput(values, readStdin),
    async run(ctx, values, [id], stdin) {
      const { type } = await getConnection(ctx.database.db, id);
      refuseOtherTypes(values, type, id);
      const changes = changesOf(values, type, openHandedOver('connections update', stdin, values));
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
