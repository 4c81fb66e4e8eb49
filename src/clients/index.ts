// Clients (relying parties and machine clients) as operators manage them: the CLI and the admin
// API register, change, rotate and delete them here. Metadata is checked with oidc-provider's
// own rules (oidc/clientValidation.ts), so what an operator registers is exactly what dynamic
// registration would accept. Each change writes its audit record and domain event.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ClientMetadata } from 'oidc-provider';
import type { Config } from '../config.ts';
import type { SecretBox } from '../secrets/secretBox.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import { assertVersion, type VersionCheck } from '../changes/versionTag.ts';
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError, parseInput } from '../errors/index.ts';
import { isForeignKeyViolation, isUniqueViolation } from '../db/constraints.ts';
import { assertMayChangeClient } from '../apis/managementApi.ts';
import { InvalidClientMetadataError, validateClientMetadata } from '../oidc/clientValidation.ts';
import { isBuiltInClient } from '../oidc/builtInClients.ts';
import { errors } from 'oidc-provider';
import {
  HASHED_SECRET_PREFIX,
  needsPlainSecret,
  rowToMetadata,
  type ClientRow,
  type ClientStore,
  type RegisteredBy,
} from '../oidc/clients.ts';
import type { Db } from '../db/index.ts';

/** What the client services need besides the change context. */
export interface ClientDeps {
  config: Config;
  box: SecretBox;
  clients: ClientStore;
}

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'] as const;
export const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
] as const;

/** What a client id may look like when an operator picks it. */
export const CLIENT_ID = /^[\w.~-]{3,100}$/;

const clientFields = {
  client_name: z.string().trim().min(1, 'client_name is required').max(200),
  redirect_uris: z.array(z.string()).max(50),
  post_logout_redirect_uris: z.array(z.string()).max(50),
  grant_types: z.array(z.enum(GRANT_TYPES)).min(1).max(4),
  token_endpoint_auth_method: z.enum(AUTH_METHODS),
  scope: z.string().max(2000),
  application_type: z.enum(['web', 'native']),
  /** The API a client-credentials request without `resource` is for. */
  default_resource: z.string().nullable(),
  /** Lets a legacy confidential client use the code flow without PKCE. */
  allow_code_without_pkce: z.boolean(),
  /** Whether this client's sign-in screen offers "Create account". */
  allow_signup: z.boolean(),
  /** Whether users must have verified their email before signing in to this client. */
  require_verified_email: z.boolean(),
  /** Whether every sign-in to this client takes a second factor. */
  require_mfa: z.boolean(),
};

export const newClientSchema = z
  .object({
    ...clientFields,
    // Hex by default: an id that starts with '-' would read as an option on the command line.
    client_id: z.string().regex(CLIENT_ID, 'client_id must be 3-100 characters of letters, digits, . _ ~ -').optional(),
    redirect_uris: clientFields.redirect_uris.default([]),
    post_logout_redirect_uris: clientFields.post_logout_redirect_uris.default([]),
    grant_types: clientFields.grant_types.optional(),
    token_endpoint_auth_method: clientFields.token_endpoint_auth_method.default('client_secret_basic'),
    scope: clientFields.scope.optional(),
    application_type: clientFields.application_type.default('web'),
    default_resource: clientFields.default_resource.optional(),
    allow_code_without_pkce: clientFields.allow_code_without_pkce.default(false),
    allow_signup: clientFields.allow_signup.default(true),
    require_verified_email: clientFields.require_verified_email.default(true),
    require_mfa: clientFields.require_mfa.default(false),
  })
  .strict();
export type NewClient = z.input<typeof newClientSchema>;

export const clientUpdateSchema = z.object(clientFields).partial().strict();
export type ClientUpdate = z.input<typeof clientUpdateSchema>;

/** A client as operators see it: never its secret, only whether it has one. */
export interface ClientView extends Omit<ClientRow, 'client_secret' | 'metadata'> {
  confidential: boolean;
}

export function clientView(row: ClientRow): ClientView {
  const { client_secret, metadata, ...rest } = row;
  return { ...rest, confidential: Boolean(client_secret) };
}

const needsSecret = (authMethod: string) => authMethod !== 'none' && authMethod !== 'private_key_jwt';
const newSecret = () => randomBytes(32).toString('base64url');

function defaultGrants(redirectUris: string[]): (typeof GRANT_TYPES)[number][] {
  return redirectUris.length ? ['authorization_code', 'refresh_token'] : ['client_credentials'];
}

/** oidc-provider's verdict on the metadata, as a domain error. */
async function validate(ctx: ServiceContext, deps: ClientDeps, metadata: ClientMetadata): Promise<void> {
  try {
    await validateClientMetadata({ config: deps.config, db: ctx.db, box: deps.box, clients: deps.clients }, metadata);
  } catch (error) {
    if (error instanceof InvalidClientMetadataError) throw new InvalidInputError(error.message);
    throw error;
  }
}

/** What the store refuses, as domain errors. */
function storeRefusal(metadata: ClientMetadata) {
  return (error: unknown): never => {
    if (error instanceof errors.InvalidClientMetadata) throw new InvalidInputError(`Invalid client: ${error.error_description}`);
    if (isUniqueViolation(error)) throw new ConflictError(`A client with id ${metadata.client_id} already exists`);
    if (isForeignKeyViolation(error))
      throw new InvalidInputError(`default_resource ${String(metadata.default_resource)} is not a registered API`);
    throw error;
  };
}

export interface CreatedClient {
  client: ClientView;
  /** Shown once: only its digest (or its sealed form) is kept. */
  client_secret?: string;
}

/** A new client's metadata, checked by oidc-provider's rules: the slow part of a create. */
export interface PreparedClient {
  metadata: ClientMetadata;
  secret?: string;
}

export async function prepareClient(ctx: ServiceContext, deps: ClientDeps, input: unknown): Promise<PreparedClient> {
  const data = parseInput(newClientSchema, input);
  if (isBuiltInClient(data.client_id)) throw new ConflictError(`Client id ${data.client_id} is reserved for Gatehouse's own use`);
  const grantTypes = data.grant_types ?? defaultGrants(data.redirect_uris);
  const secret = needsSecret(data.token_endpoint_auth_method) ? newSecret() : undefined;
  const metadata: ClientMetadata = {
    client_id: data.client_id ?? randomBytes(16).toString('hex'),
    client_name: data.client_name,
    redirect_uris: data.redirect_uris,
    post_logout_redirect_uris: data.post_logout_redirect_uris,
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: data.token_endpoint_auth_method,
    application_type: data.application_type,
    ...(data.scope ? { scope: data.scope } : {}),
    ...(data.default_resource ? { default_resource: data.default_resource } : {}),
    ...(data.allow_code_without_pkce ? { allow_code_without_pkce: true } : {}),
    ...(data.allow_signup ? {} : { allow_signup: false }),
    ...(data.require_verified_email ? {} : { require_verified_email: false }),
    ...(data.require_mfa ? { require_mfa: true } : {}),
    ...(secret ? { client_secret: secret } : {}),
  };
  await validate(ctx, deps, metadata);
  return { metadata, secret };
}

export async function createClient(ctx: ServiceContext, deps: ClientDeps, input: unknown): Promise<CreatedClient> {
  return createPreparedClient(ctx, deps, await prepareClient(ctx, deps, input));
}

export async function createPreparedClient(
  ctx: ServiceContext,
  deps: ClientDeps,
  { metadata, secret }: PreparedClient,
): Promise<CreatedClient> {
  const client = await commitChange(ctx, async (trx) => {
    await deps.clients.create(metadata, registeredBy(ctx), trx).catch(storeRefusal(metadata));
    const view = clientView(await rowOf(trx, metadata.client_id));
    return {
      value: view,
      record: { type: 'client.created', subject: view.client_id, clientId: view.client_id, data: { client_name: view.client_name } },
    };
  });
  return { client, client_secret: secret };
}

// Who registered a client, as the clients table says it.
const registeredBy = (ctx: ServiceContext): RegisteredBy => (ctx.actor.type === 'client' ? 'admin_api' : 'cli');

/**
 * The secret a client keeps after a change of its authentication method: none when the method
 * needs none; a new one (shown once) when it needs one and has none, or when it now needs the
 * plain secret back (client_secret_jwt, HS*) and only a digest is kept, which must never become
 * an HMAC key.
 */
function secretAfterChange(metadata: ClientMetadata): { secret?: string; shown?: string } {
  const kept = metadata.client_secret;
  if (!needsSecret(String(metadata.token_endpoint_auth_method))) return {};
  if (kept && !(kept.startsWith(HASHED_SECRET_PREFIX) && needsPlainSecret(metadata as Record<string, unknown>))) return { secret: kept };
  const fresh = newSecret();
  return { secret: fresh, shown: fresh };
}

async function rowOf(db: Db, clientId: string, lock = false): Promise<ClientRow> {
  const q = db<ClientRow>('clients').where('client_id', clientId);
  const row = (await (lock ? q.forUpdate() : q).first()) as ClientRow | undefined;
  if (!row) throw new NotFoundError(`No client with id ${clientId}`);
  return row;
}

/**
 * A client's row, locked until the change commits, still the version the caller last read, and
 * one the caller may change (see assertMayChangeClient).
 */
async function lockClient(trx: Db, ctx: ServiceContext, clientId: string, check: VersionCheck): Promise<ClientRow> {
  // Gatehouse's own clients are kept as they are made at start (see oidc/builtInClients.ts).
  if (isBuiltInClient(clientId))
    throw new ForbiddenError(
      `Client ${clientId} is built into Gatehouse (the account area signs in through it): it cannot be changed or deleted`,
    );
  const row = await rowOf(trx, clientId, true);
  assertVersion(check.ifMatch, clientView(row));
  await assertMayChangeClient(trx, ctx, clientId);
  return row;
}

export async function getClient(db: Db, clientId: string): Promise<ClientView> {
  return clientView(await rowOf(db, clientId));
}

export async function listClients(db: Db): Promise<ClientView[]> {
  return (await db<ClientRow>('clients').orderBy('created_at')).map(clientView);
}

/**
 * Changes some of a client's settings; the rest stay as they are. Its secret stays too, unless
 * the new authentication method needs none (it is dropped) or needs a new one (it is shown once).
 */
export async function updateClient(
  ctx: ServiceContext,
  deps: ClientDeps,
  clientId: string,
  input: unknown,
  check: VersionCheck = {},
): Promise<CreatedClient> {
  const patch = parseInput(clientUpdateSchema, input);
  let shown: string | undefined;
  const view = await commitChange(ctx, async (trx) => {
    const row = await lockClient(trx, ctx, clientId, check);
    const current = rowToMetadata(row, deps.box) as ClientMetadata;
    const { default_resource, ...rest } = patch;
    const metadata: ClientMetadata = { ...current, ...rest };
    if (default_resource === null) delete metadata.default_resource;
    else if (default_resource !== undefined) metadata.default_resource = default_resource;
    if (patch.grant_types) metadata.response_types = patch.grant_types.includes('authorization_code') ? ['code'] : [];
    const secret = secretAfterChange(metadata);
    if (secret.secret) metadata.client_secret = secret.secret;
    else delete metadata.client_secret;
    shown = secret.shown;
    await validate({ ...ctx, db: trx }, deps, metadata);
    await deps.clients.save(metadata, row.registered_by, trx).catch(storeRefusal(metadata));
    const updated = clientView(await rowOf(trx, clientId));
    return {
      value: updated,
      record: { type: 'client.updated', subject: clientId, clientId, data: { changed: Object.keys(patch), new_secret: Boolean(shown) } },
    };
  });
  deps.clients.forget(clientId);
  return { client: view, client_secret: shown };
}

/** A new secret for a confidential client; the old one stops working at once. */
export async function rotateClientSecret(
  ctx: ServiceContext,
  deps: ClientDeps,
  clientId: string,
  check: VersionCheck = {},
): Promise<CreatedClient> {
  const secret = newSecret();
  const client = await commitChange(ctx, async (trx) => {
    const row = await lockClient(trx, ctx, clientId, check);
    if (!row.client_secret) throw new ConflictError(`Client ${clientId} has no secret to rotate (it is public or uses private_key_jwt)`);
    const metadata = { ...(rowToMetadata(row, deps.box) as ClientMetadata), client_secret: secret };
    await deps.clients.save(metadata, row.registered_by, trx).catch(storeRefusal(metadata));
    const updated = clientView(await rowOf(trx, clientId));
    return { value: updated, record: { type: 'client.secret_rotated', subject: clientId, clientId, data: {} } };
  });
  deps.clients.forget(clientId);
  return { client, client_secret: secret };
}

/** Deletes a client and every token issued to it. */
export async function deleteClient(ctx: ServiceContext, deps: ClientDeps, clientId: string, check: VersionCheck = {}): Promise<void> {
  await commitChange(ctx, async (trx) => {
    await lockClient(trx, ctx, clientId, check);
    await deps.clients.delete(clientId, trx);
    return { value: undefined, record: { type: 'client.deleted', subject: clientId, clientId, data: {} } };
  });
  deps.clients.forget(clientId);
}
