// Seeds users, clients and APIs through the same code the CLI uses.
import type { Database } from '../../src/db/index.ts';
import type { Config } from '../../src/config.ts';
import { createUser, type User } from '../../src/accounts/index.ts';
import { commandContext } from '../../src/cli/context.ts';
import { registerClient, type ClientInput } from '../../src/cli/clientRegistration.ts';
import { RP_LOGOUT_REDIRECT, RP_REDIRECT } from './relyingParty.ts';

export const ALICE = { email: 'alice@example.com', password: 'correct horse battery', name: 'Alice Example' };

export function createAlice(database: Database): Promise<User> {
  return createUser(
    database.db,
    { email: ALICE.email, password: ALICE.password, emailVerified: true, profile: { name: ALICE.name, given_name: 'Alice' } },
    4,
  );
}

export async function createClient(database: Database, config: Config, input: Partial<ClientInput> = {}) {
  return registerClient(commandContext(config, database), {
    name: 'Test App',
    redirectUris: [RP_REDIRECT],
    postLogoutRedirectUris: [RP_LOGOUT_REDIRECT],
    grantTypes: ['authorization_code', 'refresh_token'],
    authMethod: 'client_secret_basic',
    applicationType: 'web',
    ...input,
  });
}
