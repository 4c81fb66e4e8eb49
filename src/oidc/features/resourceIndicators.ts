// Resource indicators (RFC 8707): tokens for registered APIs. Unknown resources are refused with
// invalid_target; the token format and signing algorithm come from the API's registration.
// Machine-to-machine tokens (client credentials) need the client to have been granted access to
// the API (`gatehouse apis grant`) and carry only the granted scopes; tokens a user obtains for
// a client through consent are bound by that consent instead. A client-credentials request
// without `resource` is for the client's default API, or refused: such a token would have no
// audience, and any API would take it for its own.
// A client whose `scope` names API scopes gets no other API scopes in its tokens.
import { errors } from 'oidc-provider';
import type { Configuration, KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import type { ProviderDeps } from '../deps.ts';
import { findApiAccess, findResourceServer } from '../resourceServers.ts';
import { API_SCOPE, DEFAULT_RESOURCE } from './clientMetadata.ts';

export const NO_DEFAULT_API = 'a resource parameter is required: this client has no default API';

const isClientCredentials = (ctx: KoaContextWithOIDC) => ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials';

export function resourceIndicators({ db }: ProviderDeps): Configuration {
  return {
    features: {
      resourceIndicators: {
        enabled: true,
        // Without a resource parameter, a user's tokens are for the userinfo endpoint only.
        defaultResource: async (ctx, client, oneOf) => {
          if (!isClientCredentials(ctx)) return oneOf ?? undefined;
          const fallback = client[DEFAULT_RESOURCE];
          if (typeof fallback !== 'string') throw new errors.InvalidTarget(NO_DEFAULT_API);
          return fallback;
        },
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, resourceIndicator, client) {
          const api = await findResourceServer(db, resourceIndicator);
          if (!api) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          let scopes = api.scopes;
          const registered = client[API_SCOPE];
          if (typeof registered === 'string') scopes = scopes.filter((s) => registered.split(' ').includes(s));
          if (isClientCredentials(ctx)) {
            const access = await findApiAccess(db, client.clientId, api.identifier);
            if (!access) throw new errors.InvalidTarget(`client is not allowed to access ${resourceIndicator}`);
            if (access.scopes) scopes = scopes.filter((s) => access.scopes?.includes(s));
          }
          const info = {
            audience: api.identifier,
            scope: scopes.join(' '),
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
