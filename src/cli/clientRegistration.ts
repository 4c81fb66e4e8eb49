// Registering a client from the CLI: builds RFC 7591 metadata from flags and validates it with
// oidc-provider's own client schema, so the CLI accepts exactly what the provider will.
import { randomBytes } from 'node:crypto';
import type { ClientMetadata } from 'oidc-provider';
import type { CommandContext } from './context.ts';
import { CommandError } from './context.ts';
import { ensureKeys, loadKeys } from '../oidc/keys.ts';
import { createProvider } from '../oidc/index.ts';
import { interactionPrompts, interactionUrl } from '../interactions/index.ts';

export interface ClientInput {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  authMethod: string;
  scope?: string;
  applicationType: 'web' | 'native';
  clientId?: string;
}

export async function registerClient(
  ctx: CommandContext,
  input: ClientInput,
): Promise<{ client_id: string; client_secret?: string; metadata: ClientMetadata }> {
  const clientId = input.clientId ?? randomBytes(16).toString('base64url');
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
    ...(needsSecret ? { client_secret: randomBytes(32).toString('base64url') } : {}),
  };
  await validate(ctx, metadata);
  if (await ctx.clients.get(clientId)) throw new CommandError(`A client with id ${clientId} already exists`);
  await ctx.clients.save(metadata, 'cli');
  return { client_id: clientId, client_secret: metadata.client_secret, metadata };
}

async function validate(ctx: CommandContext, metadata: ClientMetadata) {
  const { db } = ctx.database;
  await ensureKeys(db, ctx.box);
  const provider = createProvider(
    { config: ctx.config, db, box: ctx.box, keys: await loadKeys(db, ctx.box), clients: ctx.clients },
    { policy: interactionPrompts(), interactionUrl },
  );
  try {
    await provider.Client.validate(metadata);
  } catch (error) {
    const e = error as { error?: string; error_description?: string; message: string };
    throw new CommandError(`Invalid client: ${e.error_description ?? e.message}`);
  }
}
