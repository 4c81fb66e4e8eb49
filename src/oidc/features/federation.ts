// Federation's part of the provider: the authorization parameters with which a relying party
// picks an upstream provider and skips the sign-in screen (connection=acme-sso; idp_hint as
// other servers name it). See src/interactions/methods/upstream.ts.
import type { Configuration } from 'oidc-provider';

export function federation(): Configuration {
  return { extraParams: ['connection', 'idp_hint'] };
}
