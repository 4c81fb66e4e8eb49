// The consent prompt: what the application may have. Shows the client's name and the scopes,
// claims and API permissions it asks for; Allow records a grant, Deny ends with access_denied.
import type { Context } from 'koa';
import { interactionPolicy } from 'oidc-provider';
import type { InteractionDeps, InteractionDetails, InteractionStep } from '../types.ts';
import { csrfToken, verifyCsrf } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { accessDenied, finishInteraction } from '../finish.ts';
import { loadInteraction, requirePrompt, formBody } from '../interactionRequest.ts';
import { audit } from '../../audit/index.ts';

const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Sign you in with your account',
  profile: 'See your name and profile details',
  email: 'See your email address',
  offline_access: 'Keep access while you are not using it',
};

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

async function renderConsent(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps) {
  const details = interaction.prompt.details as ConsentDetails;
  const client = await deps.provider().Client.find(String(interaction.params.client_id));
  ctx.type = 'html';
  ctx.body = await renderPage('consent', {
    title: 'Allow access',
    uid: interaction.uid,
    clientName: client?.clientName ?? client?.clientId,
    scopes: (details.missingOIDCScope ?? []).map((scope) => ({ scope, description: SCOPE_DESCRIPTIONS[scope] ?? scope })),
    claims: details.missingOIDCClaims ?? [],
    resources: Object.entries(details.missingResourceScopes ?? {}).map(([resource, scopes]) => ({ resource, scopes })),
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

async function grantConsent(interaction: InteractionDetails, deps: InteractionDeps): Promise<string> {
  const { Grant } = deps.provider();
  const details = interaction.prompt.details as ConsentDetails;
  const accountId = interaction.session?.accountId as string;
  const clientId = String(interaction.params.client_id);
  const grant = (interaction.grantId && (await Grant.find(interaction.grantId))) || new Grant({ accountId, clientId });
  if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  return grant.save();
}

export const consentStep: InteractionStep = {
  name: 'consent',
  prompt: () => interactionPolicy.base().get('consent') as interactionPolicy.Prompt,
  render: renderConsent,
  routes(router, deps) {
    router.post('/interaction/:uid/consent', formBody, async (ctx) => {
      const interaction = await loadInteraction(ctx, deps);
      requirePrompt(interaction, 'consent');
      const form = ctx.request.body as Record<string, unknown>;
      verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
      const event = {
        userId: interaction.session?.accountId,
        clientId: String(interaction.params.client_id),
        ip: ctx.ip,
        requestId: ctx.state.requestId,
      };
      if (form.decision !== 'allow') {
        await audit(deps.db, { type: 'consent.denied', ...event });
        return finishInteraction(ctx, deps, accessDenied('End-User denied the consent'));
      }
      const grantId = await grantConsent(interaction, deps);
      await audit(deps.db, { type: 'consent.granted', ...event });
      await finishInteraction(ctx, deps, { consent: { grantId } });
    });
  },
};
