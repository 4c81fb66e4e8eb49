// Gatehouse's own clients (builtInClients.ts) ask nobody for consent: the person is using
// Gatehouse itself. oidc-provider decides on consent from the grant it loads for the request, so
// for a built-in client the grant is made here with the client's scopes already in it, and the
// consent prompt finds nothing missing. Only for a request whose redirect_uri is the client's own
// (under our issuer): were the client's registration ever altered to send codes elsewhere, such a
// request gets no grant from the session and is asked for consent, every time. Every other client
// loads its grant exactly as oidc-provider's default does.
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { ProviderDeps } from '../deps.ts';
import { findBuiltInClient, redirectUriOf } from '../builtInClients.ts';

const ownRedirect = (ctx: KoaContextWithOIDC, issuer: string, clientId: string) => {
  const client = findBuiltInClient(clientId);
  return client && ctx.oidc.params?.redirect_uri === redirectUriOf(issuer, client);
};

export function firstPartyGrants({ config }: ProviderDeps): Configuration {
  return {
    async loadExistingGrant(ctx) {
      const { provider, client, session, result } = ctx.oidc;
      const clientId = client?.clientId as string;
      // Consent given in this very interaction.
      if (result?.consent?.grantId) return provider.Grant.find(result.consent.grantId);
      const builtIn = findBuiltInClient(clientId);
      if (builtIn && !ownRedirect(ctx, config.issuer, clientId)) return undefined;
      const grantId = session?.grantIdFor(clientId);
      const existing = grantId ? await provider.Grant.find(grantId) : undefined;
      if (!builtIn) return existing;
      const granted = new Set(existing?.getOIDCScope().split(' '));
      if (existing && builtIn.scope.split(' ').every((scope) => granted.has(scope))) return existing;
      const grant = existing ?? new provider.Grant({ clientId, accountId: session?.accountId });
      grant.addOIDCScope(builtIn.scope);
      await grant.save();
      return grant;
    },
  };
}
