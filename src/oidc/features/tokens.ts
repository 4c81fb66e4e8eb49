// Token endpoint extras: client credentials, introspection (RFC 7662), revocation (RFC 7009).
// Who may introspect or revoke what is decided here, on purpose, rather than left to
// oidc-provider's defaults (which say so on the console every time they run).
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { ProviderDeps } from '../deps.ts';
import { findResourceServer } from '../resourceServers.ts';
import { findSignedInAccount } from './core.ts';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;
const isPublic = (client: Client) => client.clientAuthMethod === 'none';

export function tokens({ db }: ProviderDeps): Configuration {
  // RFC 7662 §4: a client learns about a token only if it was issued to it, or if it is the
  // resource server of the API the token is for (`gatehouse apis resource-server`). Refresh
  // tokens have no audience, so only their own client ever sees them. Anyone else (any other
  // confidential client, including one self-registered with the initial access token) is told
  // `{"active":false}`, as for an unknown token.
  async function mayIntrospect(client: Client, token: { clientId?: string; aud?: unknown }): Promise<boolean> {
    if (token.clientId === client.clientId) return true;
    if (isPublic(client) || typeof token.aud !== 'string') return false;
    const api = await findResourceServer(db, token.aud);
    return api?.resource_server_client_id === client.clientId;
  }

  async function holderIsActive(token: { accountId?: string }): Promise<boolean> {
    return token.accountId === undefined || (await findSignedInAccount(db, token.accountId)) !== undefined;
  }

  return {
    features: {
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A token of a user who is suspended (or gone) is not active, whatever its own expiry says.
        allowedPolicy: async (_ctx, client, token) =>
          (await mayIntrospect(client, token as { clientId?: string; aud?: unknown })) &&
          (await holderIsActive(token as { accountId?: string })),
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: only the client a token was issued to may revoke it. A confidential
        // client is told why; a public one gets the same answer as for an unknown token.
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (isPublic(client)) return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      userinfo: { enabled: true },
    },
  };
}
