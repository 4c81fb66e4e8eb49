// Registering a client from the CLI: builds RFC 7591 metadata from flags and validates it with
// oidc-provider's own client schema, so the CLI accepts exactly what the provider will.
import { randomBytes } from 'node:crypto';
import type { ClientMetadata } from 'oidc-provider';
import type { CommandContext } from './context.ts';
import { CommandError } from './context.ts';
import { InvalidClientMetadataError, validateClientMetadata } from '../oidc/clientValidation.ts';
import { ClientExistsError } from '../oidc/clients.ts';

export interface ClientInput {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  authMethod: string;
  scope?: string;
  applicationType: 'web' | 'native';
  clientId?: string;
  /** The API a client-credentials request without `resource` is for. */
  defaultApi?: string;
  /** Lets a legacy confidential client use the code flow without PKCE. */
  allowCodeWithoutPkce?: boolean;
}

export async function registerClient(
  ctx: CommandContext,
  input: ClientInput,
): Promise<{ client_id: string; client_secret?: string; metadata: ClientMetadata }> {
  // Hex, not base64url: an id that starts with '-' would read as an option on the command line
  // (`gatehouse apis grant --client -x…`), which a CLI-made client must always be usable with.
  const clientId = input.clientId ?? randomBytes(16).toString('hex');
  const needsSecret = input.authMethod !== 'none' && input.authMethod !== 'private_key_jwt';
  const metadata: ClientMetadata = {
    client_id: clientId,
    client_name: input.name,
    redirect_uris: input.redirectUris,
    post_logout_redirect_uris: input.postLogoutRedirectUris,
    grant_types: input.grantTypes,
    response_types: input.grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: input.authMethod as ClientMetadata['token_endpoint_auth_method'],
    application_type: input.applicationType,
    ...(input.scope ? { scope: input.scope } : {}),
    ...(input.defaultApi ? { default_resource: input.defaultApi } : {}),
    ...(input.allowCodeWithoutPkce ? { allow_code_without_pkce: true } : {}),
    ...(needsSecret ? { client_secret: randomBytes(32).toString('base64url') } : {}),
  };
  try {
    await validateClientMetadata({ config: ctx.config, db: ctx.database.db, box: ctx.box, clients: ctx.clients }, metadata);
    await ctx.clients.create(metadata);
  } catch (error) {
    if (error instanceof InvalidClientMetadataError || error instanceof ClientExistsError) throw new CommandError(error.message);
    throw error;
  }
  return { client_id: clientId, client_secret: metadata.client_secret, metadata };
}
