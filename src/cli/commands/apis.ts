// `gatehouse apis …`: APIs (resource servers) and which clients may get tokens for them.
import type { Command } from '../command.ts';
import { list, required, str } from '../command.ts';
import { CommandError } from '../context.ts';
import { createApi, deleteApi, getApi, grantApiAccess, listApis, revokeApiAccess, setResourceServerClient } from '../../apis/index.ts';

export const APIS_COMMANDS: Command[] = [
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
    run: (ctx, values) =>
      createApi(ctx.service, {
        identifier: required(values, 'identifier'),
        name: required(values, 'name'),
        scopes: list(values.scope),
        access_token_format: str(values.format),
        signing_alg: str(values.alg),
        access_token_ttl: values.ttl === undefined ? undefined : Number(values.ttl),
        resource_server_client_id: str(values['resource-server-client']),
      }),
  },
  {
    name: 'apis list',
    summary: 'List APIs',
    usage: 'apis list',
    run: (ctx) => listApis(ctx.database.db),
  },
  {
    name: 'apis show',
    summary: 'Show one API and the clients allowed machine-to-machine access to it',
    usage: 'apis show IDENTIFIER',
    positionals: ['IDENTIFIER'],
    run: (ctx, _values, [identifier]) => getApi(ctx.database.db, identifier),
  },
  {
    name: 'apis grant',
    summary: 'Allow a client to get client-credentials tokens for an API (all its scopes, or those named)',
    usage: 'apis grant --api IDENTIFIER --client CLIENT_ID [--scope S ...]',
    options: { api: { type: 'string' }, client: { type: 'string' }, scope: { type: 'string', multiple: true } },
    async run(ctx, values) {
      const scopes = list(values.scope);
      const access = await grantApiAccess(ctx.service, required(values, 'api'), {
        client_id: required(values, 'client'),
        scopes: scopes.length ? scopes : null,
      });
      return { ...access, scopes: access.scopes ?? 'all' };
    },
  },
  {
    name: 'apis resource-server',
    summary: "Name the client an API runs as: besides a token's own client, the only one that may introspect tokens for the API",
    usage: 'apis resource-server --api IDENTIFIER (--client CLIENT_ID | --none)',
    options: { api: { type: 'string' }, client: { type: 'string' }, none: { type: 'boolean' } },
    run(ctx, values) {
      const clientId = str(values.client);
      if (Boolean(clientId) === Boolean(values.none)) throw new CommandError('Give either --client CLIENT_ID or --none');
      return setResourceServerClient(ctx.service, required(values, 'api'), clientId ?? null);
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
      await revokeApiAccess(ctx.service, resource, clientId);
      return { revoked: { client_id: clientId, resource } };
    },
  },
  {
    name: 'apis delete',
    summary: 'Delete an API',
    usage: 'apis delete IDENTIFIER',
    positionals: ['IDENTIFIER'],
    async run(ctx, _values, [identifier]) {
      await deleteApi(ctx.service, identifier);
      return { deleted: identifier };
    },
  },
];
