// The mfa prompt: a second factor, after the login prompt named the account. One more step of
// the pipeline: its checks decide whether the signed-in session's level (its acr, from the
// methods it used) is enough for this request, and its screen composes the second-factor
// methods the user holds. A method that proves a factor hands over to `proceed`, which raises
// the session's amr and acr once what the interaction proved reaches the level needed.
//
//   check                  asks for a second factor when
//   acr_requested          acr_values (or an acr claim) name a level above the session's
//   client_requires_mfa    the client is registered with require_mfa, and the session is single-factor
//   second_factor          the account holds a second factor, the session is single-factor, and
//                          either the sign-in is a forced re-authentication (max_age, prompt=login)
//                          or an adaptive rule trips (a browser not known for the account, recent
//                          failures, …: src/mfa/risk.ts, MFA_RISK_RULES)
//
// A level no method of the user's can reach is answered with unmet_authentication_requirements
// (OpenID Connect Core, Unmet Authentication Requirements 1.0) once the user has read why.
import type { Context } from 'koa';
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { InteractionDeps, InteractionDetails, InteractionStep, MethodProof, PromptDeps, ScreenState } from '../types.ts';
import { csrfToken, verifyCsrf } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { finishInteraction } from '../finish.ts';
import { formBody, loadInteraction, requirePrompt } from '../interactionRequest.ts';
import { methodFragments, SIGN_IN_METHODS } from '../methods/index.ts';
import { closeFlow, interactionFlow, recordVerified, verifiedRecords } from '../../verifications/index.ts';
import { acrOfAmr, combinedAmr, levelOf, levelOfAmr, requestedLevel } from '../../mfa/levels.ts';
import { hasSecondFactor, secondFactorsOf } from '../../mfa/factors.ts';
import { DEVICE_COOKIE } from '../../mfa/devices.ts';
import { riskSignals } from '../../mfa/risk.ts';
import { rememberBrowser } from './deviceMemory.ts';
import { signInAudit } from '../progress.ts';
import { UserFacingError } from '../../http/errors.ts';

const { Check, Prompt } = interactionPolicy;
const MULTI_FACTOR = 2;

/** The level the session reached: from its acr, or (sessions from before acr) its amr; 1 at least once signed in. */
function sessionLevel(ctx: KoaContextWithOIDC): number {
  const { session } = ctx.oidc;
  if (!session?.accountId) return 0;
  return Math.max(1, levelOf(session.acr), levelOfAmr(session.amr ?? []));
}

function levelAsked(ctx: KoaContextWithOIDC): number {
  const claims = ctx.oidc.claims as { id_token?: { acr?: unknown } } | undefined;
  return requestedLevel(ctx.oidc.params?.acr_values, claims?.id_token?.acr).level;
}

const clientRequiresMfa = (ctx: KoaContextWithOIDC) => (ctx.oidc.client as unknown as { require_mfa?: boolean }).require_mfa === true;

// What the checks learn about the account is read once per request, however many ask.
const perRequest = new WeakMap<object, Promise<string[] | undefined>>();

/**
 * Why this account's own second factor is needed now: the adaptive rules that tripped (or
 * "reauthentication"); undefined when it holds none or is not asked.
 */
function factorSignals(deps: PromptDeps, ctx: KoaContextWithOIDC): Promise<string[] | undefined> {
  let signals = perRequest.get(ctx);
  if (!signals) {
    signals = readFactorSignals(deps, ctx);
    perRequest.set(ctx, signals);
  }
  return signals;
}

async function readFactorSignals({ db, config }: PromptDeps, ctx: KoaContextWithOIDC): Promise<string[] | undefined> {
  const accountId = ctx.oidc.session?.accountId;
  if (!accountId || !hasSecondFactor(await secondFactorsOf(db, accountId))) return undefined;
  if (reauthenticating(ctx)) return ['reauthentication'];
  const deviceCookie = ctx.cookies.get(DEVICE_COOKIE, { signed: true });
  const signals = await riskSignals(db, config.mfaRiskPolicy, { userId: accountId, deviceCookie, ip: ctx.ip });
  return signals.length ? signals : undefined;
}

/**
 * The relying party made this sign-in start over: the login step just finished was asked for
 * because the session was older than max_age, or because of prompt=login. A remembered browser
 * does not count then. (A first sign-in that merely carries max_age is not a re-authentication.)
 */
function reauthenticating(ctx: KoaContextWithOIDC): boolean {
  const finished = ctx.oidc.entities.Interaction as { prompt?: { name?: string; reasons?: string[] } } | undefined;
  if (!ctx.oidc.result?.login || finished?.prompt?.name !== 'login') return false;
  const reasons = finished.prompt.reasons ?? [];
  return !reasons.includes('no_session') && reasons.some((reason) => reason === 'max_age' || reason === 'login_prompt');
}

/** The level this request needs from the session, all checks together. */
async function levelNeeded(deps: PromptDeps, ctx: KoaContextWithOIDC): Promise<number> {
  const fromFactors = clientRequiresMfa(ctx) || (await factorSignals(deps, ctx)) ? MULTI_FACTOR : 0;
  return Math.max(levelAsked(ctx), fromFactors);
}

function mfaPrompt(deps: PromptDeps): interactionPolicy.Prompt {
  const below = (ctx: KoaContextWithOIDC, level: number) => sessionLevel(ctx) > 0 && sessionLevel(ctx) < level;
  const ask = (yes: boolean) => (yes ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT);
  return new Prompt(
    { name: 'mfa', requestable: false },
    async (ctx) => ({ level: await levelNeeded(deps, ctx), signals: (await factorSignals(deps, ctx)) ?? [] }),
    new Check('acr_requested', 'the requested authentication level was not reached', (ctx) => ask(below(ctx, levelAsked(ctx)))),
    new Check('client_requires_mfa', 'the client requires multi-factor authentication', (ctx) =>
      ask(clientRequiresMfa(ctx) && below(ctx, MULTI_FACTOR)),
    ),
    new Check('second_factor', 'the account is protected with a second factor', async (ctx) =>
      ask(below(ctx, MULTI_FACTOR) && Boolean(await factorSignals(deps, ctx))),
    ),
  );
}

interface MfaState {
  accountId: string;
  sessionAmr: string[];
  level: number;
  /** Why the account's own second factor is asked for (adaptive rules, re-authentication). */
  signals: string[];
}

function mfaState(interaction: InteractionDetails): MfaState {
  const accountId = interaction.session?.accountId;
  if (!accountId) throw new UserFacingError(400, 'This sign-in has expired', 'Return to the application and start again.');
  const sessionAmr = (interaction.session as { amr?: string[] }).amr ?? [];
  const details = interaction.prompt.details as { level?: number; signals?: string[] };
  return { accountId, sessionAmr, level: Number(details.level ?? MULTI_FACTOR), signals: details.signals ?? [] };
}

const SIGNAL_TEXT: Record<string, string> = {
  new_device: 'You are signing in from a browser we do not recognise, so we ask for your second step.',
  new_network: 'You are signing in from a network we have not seen for your account, so we ask for your second step.',
  new_country: 'You are signing in from a country we have not seen for your account, so we ask for your second step.',
  impossible_travel:
    'You are signing in from too far away from your last sign-in to have travelled here since, so we ask for your second step.',
  recent_failures: 'There were several failed attempts to sign in to your account recently, so we ask for your second step.',
};

/** Why the screen asks, in words, from the checks that asked. */
function reasonText(reasons: string[], signals: string[], clientName: string): string {
  if (reasons.includes('acr_requested')) return `${clientName} asks for a stronger sign-in.`;
  if (reasons.includes('client_requires_mfa')) return `${clientName} requires a second step to sign in.`;
  const signal = signals.find((s) => SIGNAL_TEXT[s]);
  return signal ? SIGNAL_TEXT[signal] : 'Your account is protected with a second step.';
}

async function renderMfa(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, screen: ScreenState = {}) {
  const state = mfaState(interaction);
  const client = await deps.provider().Client.find(String(interaction.params.client_id));
  const clientName = client?.clientName ?? client?.clientId ?? 'The application';
  // Only the methods that would reach the level needed, together with what the session proved.
  const reaching = new Set(
    SIGN_IN_METHODS.filter((m) => levelOfAmr(combinedAmr([state.sessionAmr, m.amr])) >= state.level).map((m) => m.id),
  );
  const composed = await methodFragments(
    ctx,
    { prompt: 'mfa', interaction, userId: state.accountId, identifier: '', error: screen.error },
    deps,
    (method) => reaching.has(method),
  );
  ctx.status = screen.status ?? 200;
  ctx.type = 'html';
  ctx.body = await renderPage('mfa', {
    title: 'Confirm it is you',
    uid: interaction.uid,
    clientName,
    reason: reasonText(interaction.prompt.reasons, state.signals, clientName),
    error: screen.error?.message,
    fragments: composed.fragments,
    scripts: composed.scripts,
    identifierAutocomplete: composed.identifierAutocomplete,
    unmet: composed.fragments.length === 0,
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

/**
 * Raises the session's amr and acr once what this interaction proved reaches the level needed;
 * until then the proof is kept as a verification record (a level may take two factors here,
 * say an authenticator code and then a passkey).
 */
async function proceed(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, proof: MethodProof): Promise<void> {
  const state = mfaState(interaction);
  if (proof.userId !== state.accountId)
    throw new UserFacingError(400, 'This sign-in has expired', 'Return to the application and start again.');
  const flow = interactionFlow(interaction.uid);
  const earlier = (await verifiedRecords(deps.db, flow)).filter((record) => record.userId === state.accountId);
  const amr = combinedAmr([state.sessionAmr, ...earlier.map((record) => record.amr), proof.amr]);
  if (levelOfAmr(amr) < state.level) {
    await recordVerified(deps.db, { flow, method: proof.method, userId: proof.userId, amr: proof.amr });
    return renderMfa(ctx, interaction, deps);
  }
  const methods = [...new Set([...earlier.map((record) => record.method), proof.method])].join(' ');
  await signInAudit(ctx, deps, interaction)('login.mfa_succeeded', { userId: state.accountId, details: { method: methods, amr } });
  if (earlier.length) await closeFlow(deps.db, flow);
  await rememberBrowser(ctx, deps, state.accountId);
  await finishInteraction(ctx, deps, { login: { accountId: state.accountId, amr, acr: acrOfAmr(amr), remember: true } });
}

export const mfaStep: InteractionStep = {
  name: 'mfa',
  prompt: mfaPrompt,
  render: renderMfa,
  proceed,
  routes(router, deps) {
    // The level cannot be reached with what the account holds: the application is told so.
    router.post('/interaction/:uid/mfa/unmet', formBody, async (ctx) => {
      const interaction = await loadInteraction(ctx, deps);
      requirePrompt(interaction, 'mfa');
      verifyCsrf(ctx, `interaction:${interaction.uid}`, (ctx.request.body as Record<string, unknown>)._csrf);
      const { accountId, level } = mfaState(interaction);
      await signInAudit(ctx, deps, interaction)('login.mfa_unmet', { userId: accountId, details: { level } });
      await closeFlow(deps.db, interactionFlow(interaction.uid));
      await finishInteraction(ctx, deps, {
        error: 'unmet_authentication_requirements',
        error_description: 'the account holds no factor that reaches the requested authentication level',
      });
    });
  },
};
