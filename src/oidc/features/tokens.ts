// Token endpoint extras: client credentials, introspection (RFC 7662), revocation (RFC 7009).
import type { Configuration } from 'oidc-provider';

export function tokens(): Configuration {
  return {
    features: {
      clientCredentials: { enabled: true },
      // Any authenticated confidential client (typically an API) may introspect; a public client
      // only its own tokens. This is oidc-provider's default policy, kept on purpose.
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
  };
}
