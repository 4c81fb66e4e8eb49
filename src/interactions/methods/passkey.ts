// A passkey, as a sign-in method: "Sign in with a passkey" and passkey autofill on the email
// field at the login prompt (discoverable credentials: the passkey names the account), and the
// user's own passkeys as a second factor at the mfa prompt.
//
// Two requests: POST /interaction/:uid/passkey/options starts a verification record holding the
// challenge (src/verifications: bound to this interaction, replacing any earlier one), and the
// page's script (views/static/passkey-sign-in.js) runs the ceremony and posts the signed
// response to POST /interaction/:uid/passkey as an ordinary form, so the answer is a normal
// navigation: the next screen, or this one with what went wrong. The challenge is taken with one
// conditional update before the response is checked, so it serves once whatever the outcome.
import type { Context } from 'koa';
import type { InteractionDeps, InteractionDetails, SignInMethod } from '../types.ts';
import { verifyCsrf } from '../../http/csrf.ts';
import { UserFacingError } from '../../http/errors.ts';
import { passkeyScripts } from '../../http/staticFiles.ts';
import { formBody, loadInteraction } from '../interactionRequest.ts';
import { interactionContext } from '../login/serviceContext.ts';
import { proved, showScreen, signInAudit } from '../progress.ts';
import { countPasskeys, listPasskeys, passkeyAuthenticationOptions, verifyPasskeyAssertion } from '../../mfa/passkeys.ts';
import { relyingParty } from '../../mfa/relyingParty.ts';
import { interactionFlow, startVerification, takeChallenge } from '../../verifications/index.ts';
import { DomainError } from '../../errors/index.ts';
import { findUserById } from '../../accounts/index.ts';
import { mfaAccount, takeFactorTry } from './secondFactorCode.ts';

const METHOD = 'passkey';
const SCRIPT = '/static/passkey-sign-in.js';

/** The prompt a passkey may answer now: who you are (login), or a second factor (mfa). */
function promptOf(interaction: InteractionDetails): 'login' | 'mfa' {
  const name = interaction.prompt.name;
  if (name !== 'login' && name !== 'mfa') {
    throw new UserFacingError(400, 'This step is already done', 'This page is out of date. Return to the application and start again.');
  }
  return name;
}

async function openCeremony(ctx: Context, deps: InteractionDeps) {
  const interaction = await loadInteraction(ctx, deps);
  const prompt = promptOf(interaction);
  verifyCsrf(ctx, `interaction:${interaction.uid}`, (ctx.request.body as Record<string, unknown>)._csrf);
  const limit = await deps.abuse.passkeyCeremony.attempt(ctx.ip);
  if (!limit.allowed) {
    ctx.set('Retry-After', String(limit.retryAfterSeconds));
    throw new UserFacingError(429, 'Too many attempts', 'Too many passkey sign-ins from here. Try again later.');
  }
  // At the mfa prompt, only the signed-in account's own passkeys will do.
  const accountId = prompt === 'mfa' ? interaction.session?.accountId : undefined;
  const allowCredentials = accountId ? await listPasskeys(deps.db, accountId) : undefined;
  const { options, challenge } = await passkeyAuthenticationOptions(relyingParty(deps.config), { allowCredentials });
  await startVerification(deps.db, { flow: interactionFlow(interaction.uid), method: METHOD, challenge, userId: accountId });
  ctx.type = 'json';
  ctx.body = options;
}

async function completeCeremony(ctx: Context, deps: InteractionDeps) {
  const interaction = await loadInteraction(ctx, deps);
  const prompt = promptOf(interaction);
  const form = ctx.request.body as Record<string, unknown>;
  verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
  const refuse = (message: string, status: number) => showScreen(ctx, deps, interaction, { error: { method: METHOD, message }, status });
  // As a second factor, a failed passkey counts towards the account's lock like a wrong password.
  const account = prompt === 'mfa' ? await mfaAccount(deps, interaction) : undefined;
  const succeeded = account ? await takeFactorTry(ctx, deps, interaction, account, METHOD) : async () => {};
  if (!succeeded) return;
  const accountId = account?.id;
  const started = await takeChallenge(deps.db, interactionFlow(interaction.uid), METHOD);
  let assertion: Awaited<ReturnType<typeof verifyPasskeyAssertion>>;
  try {
    assertion = await verifyPasskeyAssertion(interactionContext(ctx, deps), relyingParty(deps.config), form.response, started?.challenge, {
      userId: accountId,
    });
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    await signInAudit(
      ctx,
      deps,
      interaction,
    )(prompt === 'mfa' ? 'login.mfa_failed' : 'login.failed', {
      userId: accountId,
      details: { method: METHOD, reason: (error as { reason?: string }).reason ?? error.kind },
    });
    return refuse(`${error.message}. Try again, or use another way to sign in.`, 400);
  }
  await succeeded();
  const user = account ?? (await findUserById(deps.db, assertion.userId));
  await proved(ctx, deps, interaction, { method: METHOD, userId: assertion.userId, amr: assertion.amr, user });
}

export const passkeyMethod: SignInMethod = {
  id: METHOD,
  offeredBy: ['login', 'mfa'],
  amr: ['hwk', 'user'],
  async fragment(_ctx, screen, deps) {
    // A second factor only for an account that has a passkey; at the login prompt, always.
    if (screen.prompt === 'mfa' && (!screen.userId || (await countPasskeys(deps.db, screen.userId)) === 0)) return undefined;
    return {
      template: 'passkey',
      locals: { autofill: screen.prompt === 'login', label: screen.prompt === 'login' ? 'Sign in with a passkey' : 'Use a passkey' },
      scripts: passkeyScripts(SCRIPT),
      identifierAutocomplete: screen.prompt === 'login' ? ['webauthn'] : [],
    };
  },
  routes(router, deps) {
    router.post(`/interaction/:uid/${METHOD}/options`, formBody, (ctx) => openCeremony(ctx, deps));
    router.post(`/interaction/:uid/${METHOD}`, formBody, (ctx) => completeCeremony(ctx, deps));
  },
};
