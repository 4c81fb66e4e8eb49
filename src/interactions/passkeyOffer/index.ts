// The passkey offer: once someone has signed in (every factor the sign-in needed is done), a
// browser that can make a passkey on this device is offered to add one. Skippable, and offered
// once: showing it puts the offer off for 30 days (users.passkey_offer_snoozed_until), whatever
// the answer. A step of the pipeline after mfa, so only a complete sign-in can add a factor.
//
// Whether the device can make a passkey only its browser knows: the sign-in screen's passkey
// script sets a short-lived cookie (gatehouse.passkey_capable) when the platform has an
// authenticator. Without it, or for prompt=none, the offer never stands in the way.
//
//   POST /interaction/:uid/passkey_offer/options   registration options; the challenge is kept
//                                                   as a verification record of the interaction
//   POST /interaction/:uid/passkey_offer            the new passkey (form field `response`)
//   POST /interaction/:uid/passkey_offer/skip       not now
import type { Context } from 'koa';
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { InteractionDeps, InteractionDetails, InteractionStep, PromptDeps, ScreenState } from '../types.ts';
import { csrfToken } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { UserFacingError } from '../../http/errors.ts';
import { passkeyScripts } from '../../http/staticFiles.ts';
import { finishInteraction } from '../finish.ts';
import { rememberBrowser } from '../mfa/deviceMemory.ts';
import { SIGN_IN_EXPIRED, formBody, signedInAccountOf, signedInPromptForm } from '../interactionRequest.ts';
import { interactionContext } from '../login/serviceContext.ts';
import { findUserById } from '../../accounts/index.ts';
import { countPasskeys, listPasskeys, passkeyRegistrationOptions, registerPasskey } from '../../mfa/passkeys.ts';
import { relyingParty } from '../../mfa/relyingParty.ts';
import { closeFlow, interactionFlow, startVerification, takeChallenge } from '../../verifications/index.ts';
import { DomainError } from '../../errors/index.ts';
import type { Db } from '../../db/index.ts';

const NAME = 'passkey_offer';
const METHOD = 'passkey_registration';
export const PASSKEY_CAPABLE_COOKIE = 'gatehouse.passkey_capable';
const SNOOZE_DAYS = 30;

async function offerDue(db: Db, ctx: KoaContextWithOIDC): Promise<boolean> {
  const accountId = ctx.oidc.session?.accountId;
  if (!accountId || ctx.oidc.prompts.has('none') || ctx.cookies.get(PASSKEY_CAPABLE_COOKIE) !== '1') return false;
  const user = await db('users').where('id', accountId).first('passkey_offer_snoozed_until');
  if (!user || (user.passkey_offer_snoozed_until && new Date(user.passkey_offer_snoozed_until).getTime() > Date.now())) return false;
  return (await countPasskeys(db, accountId)) === 0;
}

function offerPrompt({ db }: PromptDeps): interactionPolicy.Prompt {
  return new interactionPolicy.Prompt(
    { name: NAME, requestable: false },
    new interactionPolicy.Check('passkey_offer_due', 'the user may add a passkey on this device', async (ctx) =>
      (await offerDue(db, ctx)) ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT,
    ),
  );
}

async function renderOffer(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, screen: ScreenState = {}) {
  const accountId = signedInAccountOf(interaction);
  // Offered once: from now on, not again for a while, whatever the answer.
  await deps
    .db('users')
    .where('id', accountId)
    .update({ passkey_offer_snoozed_until: new Date(Date.now() + SNOOZE_DAYS * 24 * 3600 * 1000) });
  ctx.status = screen.status ?? 200;
  ctx.type = 'html';
  ctx.body = await renderPage('passkey-offer', {
    title: 'Add a passkey',
    uid: interaction.uid,
    error: screen.error?.message,
    scripts: passkeyScripts('/static/passkey-offer.js'),
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

const offerRequest = (ctx: Context, deps: InteractionDeps) => signedInPromptForm(ctx, deps, NAME);

/** Goes on with the sign-in (the next prompt, or back to the application). */
async function goOn(ctx: Context, deps: InteractionDeps, interaction: InteractionDetails) {
  await closeFlow(deps.db, interactionFlow(interaction.uid));
  await finishInteraction(ctx, deps, {});
}

export const passkeyOfferStep: InteractionStep = {
  name: NAME,
  prompt: offerPrompt,
  render: renderOffer,
  routes(router, deps) {
    router.post(`/interaction/:uid/${NAME}/options`, formBody, async (ctx) => {
      const { interaction, accountId } = await offerRequest(ctx, deps);
      const limit = await deps.abuse.passkeyCeremony.attempt(ctx.ip);
      if (!limit.allowed) {
        ctx.set('Retry-After', String(limit.retryAfterSeconds));
        throw new UserFacingError(429, 'Too many attempts', 'Too many passkey requests from here. Try again later.');
      }
      const user = await findUserById(deps.db, accountId);
      if (!user) throw SIGN_IN_EXPIRED;
      const existing = await listPasskeys(deps.db, accountId);
      const { options, challenge } = await passkeyRegistrationOptions(relyingParty(deps.config), user, existing);
      await startVerification(deps.db, { flow: interactionFlow(interaction.uid), method: METHOD, challenge, userId: accountId });
      ctx.type = 'json';
      ctx.body = options;
    });

    router.post(`/interaction/:uid/${NAME}`, formBody, async (ctx) => {
      const { interaction, accountId, form } = await offerRequest(ctx, deps);
      const started = await takeChallenge(deps.db, interactionFlow(interaction.uid), METHOD);
      try {
        await registerPasskey(interactionContext(ctx, deps), relyingParty(deps.config), accountId, form.response, started?.challenge);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        const message = `${error.message}. Try again, or choose “Not now”.`;
        return renderOffer(ctx, interaction, deps, { error: { method: METHOD, message }, status: 400 });
      }
      // The browser that made the account's passkey is its owner's: not asked for it at once.
      await rememberBrowser(ctx, deps, accountId);
      await goOn(ctx, deps, interaction);
    });

    router.post(`/interaction/:uid/${NAME}/skip`, formBody, async (ctx) => {
      const { interaction } = await offerRequest(ctx, deps);
      await goOn(ctx, deps, interaction);
    });
  },
};
