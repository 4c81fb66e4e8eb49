// Signing in through an upstream identity provider (a connection, src/federation), as a sign-in
// method of the login prompt: a button per connection offered to this client; the browser leaves
// for the provider and comes back. What the provider proved is handed over like any method's
// proof, so the login prompt's rules (suspended, email verification) and the mfa prompt's
// (acr_values, require_mfa, adaptive rules) apply to it as to a password.
//
//   POST /interaction/:uid/upstream/:connection/start   leave for the provider (state, nonce and PKCE
//                                                  kept as a verification record of the interaction)
//   GET  /federation/oidc/callback                 the one redirect URI every provider is given
//                                                  (src/federation/index.ts sends it on to …)
//   GET  /interaction/:uid/upstream/callback       … here, where the interaction's cookie is sent
//   POST /interaction/:uid/upstream/give-up        back to the application with the error
//
// An upstream identity whose verified email already has an account is linked only once the
// owner signs in to that account here (afterSignIn), finishes every factor and agrees (the
// identity_link prompt); see src/federation/accounts.ts.
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { InteractionDeps, InteractionDetails, SignInMethod } from '../types.ts';
import type { User } from '../../accounts/index.ts';
import { csrfToken, verifyCsrf } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { UserFacingError } from '../../http/errors.ts';
import { formBody, loadInteraction, requirePrompt } from '../interactionRequest.ts';
import { interactionContext } from '../login/serviceContext.ts';
import { anotherWayPath } from '../login/anotherWay.ts';
import { finishInteraction } from '../finish.ts';
import { proved, showScreen, signInAudit } from '../progress.ts';
import { identityLinkFlow, interactionFlow, recordVerified, startVerification, takeChallenge } from '../../verifications/index.ts';
import { connectionForDomain, connectionForSignIn, connectionsOffered, type Connection } from '../../federation/connections.ts';
import { UpstreamError } from '../../federation/oidcUpstream.ts';
import { resolveFederatedUser } from '../../federation/accounts.ts';
import { interactionReturnKey } from '../../federation/paths.ts';
import { isSamlIdentity } from '../../federation/saml.ts';
import { rememberSamlSession } from '../../federation/samlLogout.ts';
import {
  arriveFrom,
  departFor,
  takeArrival,
  type Arrival,
  type UpstreamFlowDeps,
  upstreamFlowDeps,
} from '../../federation/upstreamFlow.ts';

const METHOD = 'upstream';
export const PENDING_LINK = 'upstream_link';

const flowDeps = (deps: InteractionDeps): UpstreamFlowDeps => upstreamFlowDeps(deps.config, deps.db, deps.accounts.box);

/** What the person sees when the provider said no, did not answer, or sent what does not hold. */
const UPSTREAM_MESSAGES: Record<UpstreamError['kind'], (name: string) => string> = {
  refused: (name) => `Signing in with ${name} was cancelled or refused.`,
  unavailable: (name) => `${name} is not available right now. Try again in a moment, or sign in another way.`,
  invalid: (name) => `Signing in with ${name} did not work: its answer could not be checked.`,
};

/** The error the application gets when the person gives up after a failed upstream sign-in. */
const RP_ERRORS: Record<UpstreamError['kind'] | 'account', string> = {
  refused: 'access_denied',
  unavailable: 'temporarily_unavailable',
  invalid: 'access_denied',
  account: 'access_denied',
};

const REFUSALS = {
  email_taken: (name: string) =>
    `An account with this email already exists here, and ${name} has not verified the address. Sign in with that account instead; you can link ${name} from its Security page.`,
  no_account: (name: string) => `There is no account here for your ${name} identity, and this application does not create one.`,
  no_email: (name: string) => `${name} did not tell us your email address, which an account here needs.`,
  gone: (name: string) => `${name} is no longer offered here. Sign in another way.`,
} as const;

async function showUpstreamProblem(
  ctx: Context,
  interaction: InteractionDetails,
  message: string,
  kind: keyof typeof RP_ERRORS,
  status: number,
) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = await renderPage('upstream-problem', {
    title: 'Sign-in did not work',
    uid: interaction.uid,
    message,
    kind,
    // The sign-in screen, not the address that would preempt it again for the same provider.
    anotherWay: anotherWayPath(interaction.uid),
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

const offeredTo = (connection: Connection, interaction: InteractionDetails) =>
  connection.clients === null || connection.clients.includes(String(interaction.params.client_id));

/** Sends the browser to the connection's provider, or shows why it cannot go. */
async function departTo(
  ctx: Context,
  deps: InteractionDeps,
  interaction: InteractionDetails,
  connection: Connection & { clientSecret?: string },
  extra: Record<string, string> = {},
) {
  const limit = await deps.abuse.passkeyCeremony.attempt(ctx.ip);
  if (!limit.allowed) {
    ctx.set('Retry-After', String(limit.retryAfterSeconds));
    throw new UserFacingError(429, 'Too many attempts', 'Too many sign-in attempts from here. Try again later.');
  }
  try {
    const url = await departFor(
      flowDeps(deps),
      connection,
      { flow: interactionFlow(interaction.uid), method: METHOD, returnKey: interactionReturnKey(interaction.uid) },
      extra,
    );
    ctx.status = 303;
    ctx.redirect(url.href);
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    await signInAudit(ctx, deps, interaction)('login.federated_refused', { details: { connection: connection.id, problem: error.kind } });
    return showUpstreamProblem(ctx, interaction, UPSTREAM_MESSAGES[error.kind](connection.display_name), error.kind, 503);
  }
}

async function leaveForProvider(ctx: Context, deps: InteractionDeps) {
  const interaction = await loadInteraction(ctx, deps);
  requirePrompt(interaction, 'login');
  verifyCsrf(ctx, `interaction:${interaction.uid}`, (ctx.request.body as Record<string, unknown>)._csrf);
  const connection = await connectionForSignIn(deps.db, deps.accounts.box, ctx.params.connection);
  if (!connection || !offeredTo(connection, interaction))
    throw new UserFacingError(404, 'Not available', 'This way of signing in is not available here.');
  await departTo(ctx, deps, interaction, connection);
}

/**
 * Home-realm discovery: the enterprise connection whose email domains include this address's,
 * offered to this client. The sign-in screen sends such an address there (identifier first)
 * instead of asking for a password.
 */
export async function homeRealmDeparture(
  ctx: Context,
  deps: InteractionDeps,
  interaction: InteractionDetails,
  email: string,
): Promise<boolean> {
  const domain = email.trim().toLowerCase().split('@')[1];
  if (!domain) return false;
  const realm = await connectionForDomain(deps.db, domain, String(interaction.params.client_id));
  const connection = realm && (await connectionForSignIn(deps.db, deps.accounts.box, realm.id));
  if (!connection) return false;
  await departTo(ctx, deps, interaction, connection, { login_hint: email.trim() });
  return true;
}

/** The connection a relying party picked with connection= (or idp_hint=), when offered to it. */
async function pickedConnection(deps: InteractionDeps, interaction: InteractionDetails) {
  const picked = interaction.params.connection ?? interaction.params.idp_hint;
  if (typeof picked !== 'string' || !picked) return undefined;
  const connection = await connectionForSignIn(deps.db, deps.accounts.box, picked);
  return connection && offeredTo(connection, interaction) ? connection : undefined;
}

async function comeBack(ctx: Context, deps: InteractionDeps) {
  const interaction = await loadInteraction(ctx, deps);
  requirePrompt(interaction, 'login');
  const arrival = await arriveFrom(
    flowDeps(deps),
    { flow: interactionFlow(interaction.uid), method: METHOD },
    new URLSearchParams(ctx.querystring),
  );
  await settle(ctx, deps, interaction, arrival);
}

/**
 * A response posted back without the sign-in's cookies (SAML at its assertion consumer service,
 * an OpenID provider with form_post at the callback) was checked there: what it said.
 */
async function samlArrived(ctx: Context, deps: InteractionDeps) {
  const interaction = await loadInteraction(ctx, deps);
  requirePrompt(interaction, 'login');
  const token = typeof ctx.query.t === 'string' ? ctx.query.t : '';
  await settle(ctx, deps, interaction, await takeArrival(flowDeps(deps), interactionFlow(interaction.uid), token));
}

/** Goes on from what came back from the provider: a sign-in, a link to prove, or a screen that says what went wrong. */
async function settle(ctx: Context, deps: InteractionDeps, interaction: InteractionDetails, arrival: Arrival) {
  const event = signInAudit(ctx, deps, interaction);
  if (!arrival.ok) {
    const { problem, connection } = arrival;
    if (problem === 'stale' || problem === 'gone' || !connection)
      return showUpstreamProblem(ctx, interaction, 'This sign-in was already used or has expired. Start again.', 'refused', 400);
    // Why, in the provider's or the validator's words (no secret in them): what an operator needs.
    await event('login.federated_refused', { details: { connection: connection.id, problem, reason: arrival.reason } });
    return showUpstreamProblem(
      ctx,
      interaction,
      UPSTREAM_MESSAGES[problem](connection.display_name),
      problem,
      problem === 'unavailable' ? 503 : 400,
    );
  }
  const { connection, identity } = arrival;
  const outcome = await resolveFederatedUser(
    interactionContext(ctx, deps),
    deps.config.declarations.current().profile,
    connection,
    identity,
  );
  if (outcome.kind === 'refused') {
    await event('login.federated_refused', { details: { connection: connection.id, problem: outcome.reason } });
    return showUpstreamProblem(ctx, interaction, REFUSALS[outcome.reason](connection.display_name), 'account', 403);
  }
  if (outcome.kind === 'link_needed') {
    await startVerification(deps.db, {
      flow: interactionFlow(interaction.uid),
      method: PENDING_LINK,
      challenge: randomBytes(16).toString('base64url'),
      userId: outcome.user.id,
      state: { connection: connection.id, subject: identity.subject, email: outcome.email },
      lifetimeSeconds: 900,
    });
    const notice = `An account with ${outcome.email} already exists. Sign in to it to link ${connection.display_name}; from then on either signs you in.`;
    return showScreen(ctx, deps, interaction, { identifier: outcome.email, notice });
  }
  // What the provider says it used; a provider that says nothing signed the person in somehow ("fed").
  const amr = identity.amr.length ? identity.amr : ['fed'];
  await proved(ctx, deps, interaction, { method: `${METHOD}:${connection.id}`, userId: outcome.user.id, amr, user: outcome.user });
  // Single logout names the IdP session this browser signed in with (src/federation/samlLogout.ts).
  if (connection.type === 'saml' && isSamlIdentity(identity))
    rememberSamlSession(ctx, deps.accounts.box, { connection: connection.id, userId: outcome.user.id, ...identity.saml });
}

/**
 * Once the owner of the account has signed in to it (first factor), the identity waiting for
 * that proof is carried to the identity_link prompt, which links it when every factor the
 * sign-in needs is done and the person agrees. Someone else signing in drops it.
 */
async function carryProvenLink(_ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, user: User): Promise<void> {
  const pending = await takeChallenge(deps.db, interactionFlow(interaction.uid), PENDING_LINK);
  if (!pending || pending.userId !== user.id) return;
  await recordVerified(deps.db, {
    flow: identityLinkFlow(interaction.cid),
    method: PENDING_LINK,
    userId: user.id,
    amr: [],
    state: pending.state,
  });
}

export const upstreamMethod: SignInMethod = {
  id: METHOD,
  offeredBy: ['login'],
  amr: ['fed'],
  // A relying party that names a connection (connection=acme-sso, or idp_hint) skips the sign-in
  // screen: the browser goes straight to that provider. One not offered to it shows the screen.
  async preempt(ctx, interaction, deps) {
    const connection = await pickedConnection(deps, interaction);
    if (!connection) return false;
    await departTo(ctx, deps, interaction, connection);
    return true;
  },
  async fragment(_ctx, screen, deps) {
    const connections = await connectionsOffered(deps.db, String(screen.interaction.params.client_id));
    if (!connections.length) return undefined;
    return { template: 'upstream', locals: { connections: connections.map((c) => ({ id: c.id, name: c.display_name })) } };
  },
  afterSignIn: carryProvenLink,
  routes(router, deps) {
    router.post(`/interaction/:uid/${METHOD}/give-up`, formBody, async (ctx) => {
      const interaction = await loadInteraction(ctx, deps);
      const form = ctx.request.body as Record<string, unknown>;
      verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
      const kind = (typeof form.kind === 'string' && form.kind in RP_ERRORS ? form.kind : 'refused') as keyof typeof RP_ERRORS;
      await finishInteraction(ctx, deps, { error: RP_ERRORS[kind], error_description: 'The upstream sign-in did not complete' });
    });
    router.get(`/interaction/:uid/${METHOD}/callback`, (ctx) => comeBack(ctx, deps));
    router.get(`/interaction/:uid/${METHOD}/arrived`, (ctx) => samlArrived(ctx, deps));
    router.post(`/interaction/:uid/${METHOD}/:connection/start`, formBody, (ctx) => leaveForProvider(ctx, deps));
  },
};
