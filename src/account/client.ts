// The account area's client (oidc/builtInClients.ts), made at start as the issuer wants it: created
// when missing, put back when its row differs (the issuer changed, or someone edited the table:
// the services refuse to), left alone otherwise. One domain event when it is written.
import type { FeatureDeps } from '../feature.ts';
import type { ClientRow } from '../oidc/clients.ts';
import type { Db } from '../db/index.ts';
import { ACCOUNT_CLIENT, builtInClientMetadata } from '../oidc/builtInClients.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import { logger } from '../http/logger.ts';

// The columns a row made from the client's metadata holds, with what the store defaults.
function expectedColumns(issuer: string): Record<string, unknown> {
  const { client_id, ...metadata } = builtInClientMetadata(issuer, ACCOUNT_CLIENT);
  return {
    ...metadata,
    client_secret: null,
    default_resource: null,
    allow_code_without_pkce: false,
    allow_signup: true,
    require_verified_email: true,
    metadata: {},
  };
}

function asWanted(row: ClientRow | undefined, issuer: string): boolean {
  if (!row) return false;
  const actual = row as unknown as Record<string, unknown>;
  return Object.entries(expectedColumns(issuer)).every(([column, value]) => JSON.stringify(actual[column]) === JSON.stringify(value));
}

async function writeClient(deps: FeatureDeps, ctx: ServiceContext): Promise<void> {
  const { clientId } = ACCOUNT_CLIENT;
  await commitChange(ctx, async (trx: Db) => {
    const row = await trx<ClientRow>('clients').where('client_id', clientId).forUpdate().first();
    if (asWanted(row, deps.config.issuer)) return { value: undefined, record: null };
    if (row) logger.warn('built-in client restored', { clientId });
    await deps.clients.save(builtInClientMetadata(deps.config.issuer, ACCOUNT_CLIENT), 'cli', trx);
    const type = row ? 'client.updated' : 'client.created';
    return {
      value: undefined,
      record: { type, subject: clientId, clientId, data: { client_name: ACCOUNT_CLIENT.clientName, built_in: true } },
    };
  });
  deps.clients.forget(clientId);
}

/**
 * Makes sure the account area's client is registered as it must be. The write is an upsert, so
 * two instances starting at once both succeed (each may record the change).
 */
export async function ensureAccountClient(deps: FeatureDeps): Promise<void> {
  await writeClient(deps, { db: deps.database.db, actor: { type: 'system' }, source: deps.config.issuer });
}
