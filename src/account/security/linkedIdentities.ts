// Linked identities: the upstream providers (src/federation) a person can sign in with. They see
// each one, link another (a trip to the provider and back: the identity the provider vouches for
// becomes theirs, unless it is already someone else's), and remove one — never the last way they
// have to sign in. Linking adds a way in, so it needs a recent sign-in like adding a passkey;
// removing one only narrows the ways in, but is refused when it would leave none.
import type { Context } from 'koa';
import type { AccountAreaDeps } from '../types.ts';
import { accountChangeContext, verifyAccountCsrf } from '../pages.ts';
import { requireRecentSignIn, signedInAccount } from '../recentSignIn.ts';
import { field, formBody } from '../../http/requestBodies.ts';
import { ConflictError, NotFoundError } from '../../errors/index.ts';
import { accountFlow } from '../../verifications/index.ts';
import { ACCOUNT_CLIENT } from '../../oidc/builtInClients.ts';
import { connectionForSignIn, connectionsOffered, type Connection } from '../../federation/connections.ts';
import { findIdentity, listIdentities, unlinkIdentity } from '../../federation/identities.ts';
import { linkProvenIdentity } from '../../federation/accounts.ts';
import { UpstreamError } from '../../federation/oidcUpstream.ts';
import { ACCOUNT_LINK_CALLBACK_PATH, ACCOUNT_RETURN_KEY } from '../../federation/paths.ts';
import { arriveFrom, departFor, type UpstreamFlowDeps, upstreamFlowDeps } from '../../federation/upstreamFlow.ts';
import { SECURITY_PATH, backToSecurity, shownDate, type SecurityPart } from './part.ts';

const IDENTITIES_PATH = `${SECURITY_PATH}/identities`;
const METHOD = 'upstream_account_link';

const flowDeps = (deps: AccountAreaDeps): UpstreamFlowDeps => upstreamFlowDeps(deps.config, deps.db, deps.box);
const flowOf = (ctx: Context) => accountFlow(signedInAccount(ctx).session.id);

/**
 * Providers that answer by a cross-site POST (SAML, form_post) bring none of the account area's
 * cookies back: their identities are linked by signing in through them (the identity_link prompt).
 */
const linkableHere = (connection: Connection) =>
  connection.type !== 'saml' && !(connection.type === 'oidc' && connection.settings.response_mode === 'form_post');

async function startLink(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  requireRecentSignIn(ctx, undefined, SECURITY_PATH);
  const connection = await connectionForSignIn(deps.db, deps.box, ctx.params.connection);
  // The page offers only these; a hand-made post for another would leave for a provider whose
  // answer could never be taken here.
  const offered =
    connection && linkableHere(connection) && (connection.clients === null || connection.clients.includes(ACCOUNT_CLIENT.clientId));
  if (!connection || !offered) return backToSecurity(ctx, { problem: 'identity-unavailable' });
  try {
    // prompt=login: the provider asks who to link now, rather than handing over whoever is
    // signed in to it in this browser (perhaps another of the person's accounts, or someone else's).
    const url = await departFor(
      flowDeps(deps),
      connection,
      { flow: flowOf(ctx), method: METHOD, returnKey: ACCOUNT_RETURN_KEY },
      { prompt: 'login' },
    );
    ctx.status = 303;
    ctx.redirect(url.href);
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    backToSecurity(ctx, { problem: 'identity-unavailable' });
  }
}

async function finishLink(ctx: Context, deps: AccountAreaDeps) {
  const { user } = signedInAccount(ctx);
  const arrival = await arriveFrom(flowDeps(deps), { flow: flowOf(ctx), method: METHOD }, new URLSearchParams(ctx.querystring));
  if (!arrival.ok) return backToSecurity(ctx, { problem: arrival.problem === 'refused' ? 'identity-cancelled' : 'identity-failed' });
  const { connection, identity } = arrival;
  const existing = await findIdentity(deps.db, connection.id, identity.subject);
  if (existing) return backToSecurity(ctx, existing.user_id === user.id ? { done: 'identity-already' } : { problem: 'identity-taken' });
  const email = typeof identity.claims.email === 'string' ? identity.claims.email : '';
  const linked = await linkProvenIdentity(accountChangeContext(ctx, deps), {
    connectionId: connection.id,
    subject: identity.subject,
    userId: user.id,
    email,
  });
  // gone: the connection was deleted while the provider answered.
  const outcomes = {
    linked: { done: 'identity-linked' },
    taken: { problem: 'identity-taken' },
    gone: { problem: 'identity-unavailable' },
  } as const;
  backToSecurity(ctx, outcomes[linked]);
}

async function unlink(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  try {
    await unlinkIdentity(accountChangeContext(ctx, deps), signedInAccount(ctx).user.id, ctx.params.connection, field(ctx, 'subject'));
  } catch (error) {
    if (error instanceof ConflictError) return backToSecurity(ctx, { problem: 'identity-last' });
    if (!(error instanceof NotFoundError)) throw error;
  }
  backToSecurity(ctx, { done: 'identity-removed' });
}

export const linkedIdentitiesPart: SecurityPart = {
  template: 'linked-identities',
  async load(ctx, deps) {
    const { user } = signedInAccount(ctx);
    const [identities, offered] = await Promise.all([
      listIdentities(deps.db, user.id),
      connectionsOffered(deps.db, ACCOUNT_CLIENT.clientId),
    ]);
    return {
      identities: identities.map((i) => ({
        connection: i.connection_id,
        subject: i.subject,
        name: i.display_name,
        email: i.email,
        linkedAt: shownDate(i.created_at),
        lastUsedAt: shownDate(i.last_used_at),
      })),
      // Several identities of one provider may be linked (two Google accounts): every provider stays
      // offered. SAML answers by POST to a sign-in's assertion consumer service only: those are
      // linked by signing in through them (the identity_link prompt), not from here.
      connections: offered.filter(linkableHere).map((c) => ({ id: c.id, name: c.display_name })),
      identitiesPath: IDENTITIES_PATH,
    };
  },
  notices: {
    'identity-linked': 'The identity was linked. You can now sign in with it.',
    'identity-already': 'That identity was already linked to your account.',
    'identity-removed': 'The identity was removed. It no longer signs you in.',
  },
  problems: {
    'identity-taken': 'That identity already signs in to another account here, so it cannot be linked to yours.',
    'identity-last': 'This is your only way to sign in. Set a password or add a passkey before you remove it.',
    'identity-cancelled': 'Linking was cancelled at the provider.',
    'identity-failed': 'Linking did not work. Try again.',
    'identity-unavailable': 'That provider is not available right now.',
  },
  routes(router, deps) {
    router.post(`${IDENTITIES_PATH}/:connection/link`, formBody, (ctx) => startLink(ctx, deps));
    router.get(ACCOUNT_LINK_CALLBACK_PATH, (ctx) => finishLink(ctx, deps));
    router.post(`${IDENTITIES_PATH}/:connection/unlink`, formBody, (ctx) => unlink(ctx, deps));
  },
};
