// `gatehouse clients …`: relying parties and machine clients.
import type { Command } from '../command.ts';
import { list, required, str } from '../command.ts';
import { CommandError } from '../context.ts';
import { AUTH_METHODS, CLIENT_ID, createClient, deleteClient, getClient, listClients, rotateClientSecret } from '../../clients/index.ts';

export const CLIENTS_COMMANDS: Command[] = [
  {
    name: 'clients create',
    summary: 'Register a client; prints its id and, for confidential clients, its secret (shown once)',
    usage:
      'clients create --name NAME --redirect-uri URI [--redirect-uri URI] [--post-logout-redirect-uri URI] [--grant-type TYPE]... [--public | --auth-method METHOD] [--scope "openid profile"] [--native] [--client-id ID] [--default-api URI] [--allow-code-without-pkce] [--no-signup] [--allow-unverified-email] [--require-mfa]',
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
      'no-signup': { type: 'boolean' },
      'allow-unverified-email': { type: 'boolean' },
      'require-mfa': { type: 'boolean' },
    },
    async run(ctx, values) {
      const authMethod = values.public ? 'none' : (str(values['auth-method']) ?? 'client_secret_basic');
      if (!(AUTH_METHODS as readonly string[]).includes(authMethod))
        throw new CommandError(`--auth-method must be one of ${AUTH_METHODS.join(', ')}`);
      const clientId = str(values['client-id']);
      if (clientId !== undefined && !CLIENT_ID.test(clientId))
        throw new CommandError('--client-id must be 3-100 characters of letters, digits, . _ ~ -');
      const grantTypes = list(values['grant-type']);
      const created = await createClient(ctx.service, ctx.clientDeps, {
        client_name: required(values, 'name'),
        redirect_uris: list(values['redirect-uri']),
        post_logout_redirect_uris: list(values['post-logout-redirect-uri']),
        ...(grantTypes.length ? { grant_types: grantTypes } : {}),
        token_endpoint_auth_method: authMethod,
        scope: str(values.scope),
        application_type: values.native ? 'native' : 'web',
        client_id: clientId,
        default_resource: str(values['default-api']),
        allow_code_without_pkce: Boolean(values['allow-code-without-pkce']),
        allow_signup: !values['no-signup'],
        require_verified_email: !values['allow-unverified-email'],
        require_mfa: Boolean(values['require-mfa']),
      });
      return created.client_secret ? { ...created.client, client_secret: created.client_secret } : created.client;
    },
  },
  {
    name: 'clients list',
    summary: 'List clients',
    usage: 'clients list',
    run: (ctx) => listClients(ctx.database.db),
  },
  {
    name: 'clients show',
    summary: 'Show one client (never its secret)',
    usage: 'clients show CLIENT_ID',
    positionals: ['CLIENT_ID'],
    run: (ctx, _values, [clientId]) => getClient(ctx.database.db, clientId),
  },
  {
    name: 'clients rotate-secret',
    summary: 'Give a confidential client a new secret (shown once); the old one stops working at once',
    usage: 'clients rotate-secret CLIENT_ID',
    positionals: ['CLIENT_ID'],
    async run(ctx, _values, [clientId]) {
      const rotated = await rotateClientSecret(ctx.service, ctx.clientDeps, clientId);
      return { client_id: rotated.client.client_id, client_secret: rotated.client_secret };
    },
  },
  {
    name: 'clients delete',
    summary: 'Delete a client and every token issued to it',
    usage: 'clients delete CLIENT_ID',
    positionals: ['CLIENT_ID'],
    async run(ctx, _values, [clientId]) {
      await deleteClient(ctx.service, ctx.clientDeps, clientId);
      return { deleted: clientId };
    },
  },
];
