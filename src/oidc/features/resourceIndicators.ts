// Resource indicators (RFC 8707): tokens for registered APIs. Unknown resources are refused with
// invalid_target; the token format and signing algorithm come from the API's registration.
import { errors } from 'oidc-provider';
import type { Configuration, ResourceServer } from 'oidc-provider';
import type { ProviderDeps } from '../deps.ts';
import { findResourceServer } from '../resourceServers.ts';

export function resourceIndicators({ db }: ProviderDeps): Configuration {
  return {
    features: {
      resourceIndicators: {
        enabled: true,
        // Without a resource parameter, tokens are for the userinfo endpoint only.
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? undefined,
        useGrantedResource: async () => true,
        async getResourceServerInfo(_ctx, resourceIndicator) {
          const api = await findResourceServer(db, resourceIndicator);
          if (!api) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          const info = {
            audience: api.identifier,
            scope: api.scopes.join(' '),
            accessTokenTTL: api.access_token_ttl,
            accessTokenFormat: api.access_token_format,
            ...(api.access_token_format === 'jwt' ? { jwt: { sign: { alg: api.signing_alg } } } : {}),
          };
          return info as ResourceServer;
        },
      },
    },
  };
}
