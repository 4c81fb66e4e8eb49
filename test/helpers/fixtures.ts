// Seeds users, clients and APIs through the same domain services the CLI and the admin API use.
import type { Database } from '../../src/db/index.ts';
import type { Config } from '../../src/config.ts';
import { createUser, type User } from '../../src/accounts/index.ts';
import { commandContext } from '../../src/cli/context.ts';
import { cliContext, type ServiceContext } from '../../src/changes/index.ts';
import { createClient as registerClient, type NewClient } from '../../src/clients/index.ts';
import { RP_LOGOUT_REDIRECT, RP_REDIRECT } from './relyingParty.ts';

export const ALICE = { email: 'alice@example.com', password: 'correct horse battery', name: 'Alice Example' };

/** Changes a test makes as an operator would from the CLI. */
export const operator = (database: Database): ServiceContext => cliContext(database.db, 'http://gatehouse.test');

export function createAlice(database: Database): Promise<User> {
  return createUser(
    operator(database),
    { email: ALICE.email, password: ALICE.password, email_verified: true, profile: { name: ALICE.name, given_name: 'Alice' } },
    4,
  );
}

/** The fields tests vary, named as the CLI's flags were; mapped to the client service's input. */
export interface ClientInput {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  authMethod: string;
  scope?: string;
  applicationType: 'web' | 'native';
  clientId?: string;
  defaultApi?: string;
  allowCodeWithoutPkce?: boolean;
  /** Offer "Create account" on this client's sign-in screen (the service's default: true). */
  allowSignup?: boolean;
  /** Require a verified email before signing in to this client (the service's default: true). */
  requireVerifiedEmail?: boolean;
}

export async function createClient(database: Database, config: Config, input: Partial<ClientInput> = {}) {
  const ctx = commandContext(config, database);
  const wanted: ClientInput = {
    name: 'Test App',
    redirectUris: [RP_REDIRECT],
    postLogoutRedirectUris: [RP_LOGOUT_REDIRECT],
    grantTypes: ['authorization_code', 'refresh_token'],
    authMethod: 'client_secret_basic',
    applicationType: 'web',
    ...input,
  };
  const created = await registerClient(ctx.service, ctx.clientDeps, {
    client_name: wanted.name,
    redirect_uris: wanted.redirectUris,
    post_logout_redirect_uris: wanted.postLogoutRedirectUris,
    grant_types: wanted.grantTypes as NewClient['grant_types'],
    token_endpoint_auth_method: wanted.authMethod as NewClient['token_endpoint_auth_method'],
    scope: wanted.scope,
    application_type: wanted.applicationType,
    client_id: wanted.clientId,
    default_resource: wanted.defaultApi,
    allow_code_without_pkce: wanted.allowCodeWithoutPkce,
    allow_signup: wanted.allowSignup,
    require_verified_email: wanted.requireVerifiedEmail,
  });
  return { client_id: created.client.client_id, client_secret: created.client_secret, client: created.client };
}
