// Token endpoint extras: client credentials, introspection (RFC 7662), revocation (RFC 7009).
// Who may introspect or revoke what is decided here, on purpose, rather than left to
// oidc-provider's defaults (which say so on the console every time they run).
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;
const isPublic = (client: Client) => client.clientAuthMethod === 'none';

export function tokens(): Configuration {
  return {
    features: {
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Any authenticated confidential client may introspect (that is how an API checks the
        // opaque tokens other clients present to it); a public client only its own tokens.
        allowedPolicy: async (_ctx, client, token) => !isPublic(client) || token.clientId === client.clientId,
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
