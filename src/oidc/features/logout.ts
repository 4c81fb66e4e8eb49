// RP-initiated logout: our confirmation page and signed-out page instead of the library's. The
// signed-out page says so when SAML single logout could not confirm the IdP signed the person out
// too (src/federation/samlLogout.ts).
import type { Configuration } from 'oidc-provider';
import { renderPage } from '../../http/views.ts';

export function logout(): Configuration {
  return {
    features: {
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.set('Cache-Control', 'no-store');
          ctx.body = await renderPage('logout', {
            title: 'Sign out',
            form,
            clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
          });
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.set('Cache-Control', 'no-store');
          ctx.body = await renderPage('logout-success', {
            title: 'Signed out',
            clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
            idpUnconfirmed: ctx.query.saml_logout === 'unconfirmed',
          });
        },
      },
    },
  };
}
