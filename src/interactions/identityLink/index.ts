// The identity_link prompt: an upstream identity whose verified email named an existing account
// waits, after its owner signed in (methods/upstream.ts), until the whole sign-in is done —
// second factor included — and is linked only when the person says so. Asking is not a
// formality: the person sees which provider and which of its accounts will sign in here from now
// on. "Not now" links nothing and goes on. One whose connection the operator deleted or disabled
// meanwhile is dropped unasked: the sign-in goes on as if nothing waited.
//
//   POST /interaction/:uid/identity_link     decision=link | skip
import type { Context } from 'koa';
import { interactionPolicy } from 'oidc-provider';
import type { InteractionDeps, InteractionDetails, InteractionStep, PromptDeps } from '../types.ts';
import { csrfToken } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { finishInteraction } from '../finish.ts';
import { formBody, signedInPromptForm } from '../interactionRequest.ts';
import { interactionContext } from '../login/serviceContext.ts';
import type { Db } from '../../db/index.ts';
import { closeFlow, identityLinkFlow, verifiedRecords, type VerificationRecord } from '../../verifications/index.ts';
import { anyConnections, getConnection, type Connection } from '../../federation/connections.ts';
import { linkProvenIdentity } from '../../federation/accounts.ts';
import { NotFoundError } from '../../errors/index.ts';
import { PENDING_LINK } from '../methods/upstream.ts';

const NAME = 'identity_link';

interface PendingLink {
  connection: string;
  subject: string;
  email: string;
}

/** An identity waiting to be linked, with the connection it would be linked through. */
interface LinkToAsk {
  link: PendingLink;
  connection: Connection;
}

/** The connection a link would be made through, while it exists and is enabled. */
async function linkableConnection(db: Db, id: string): Promise<Connection | undefined> {
  try {
    const connection = await getConnection(db, id);
    return connection.enabled ? connection : undefined;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** The identity waiting for this account in this authorization request, while it may still be linked. */
async function pendingLink(db: Db, cid: string | undefined, accountId: string | undefined): Promise<LinkToAsk | undefined> {
  if (!cid || !accountId) return undefined;
  const records = await verifiedRecords(db, identityLinkFlow(cid));
  const pending = records.find((r) => r.method === PENDING_LINK && r.userId === accountId) as
    | (VerificationRecord & { state: PendingLink })
    | undefined;
  if (!pending) return undefined;
  const connection = await linkableConnection(db, pending.state.connection);
  if (connection) return { link: pending.state, connection };
  // Deleted or disabled since the identity came back: nothing may be linked through it, and
  // asking would hold the sign-in on a screen that cannot be answered. Dropped, so that every
  // later check, screen and answer of this authorization request agrees there is none.
  await closeFlow(db, identityLinkFlow(cid));
  return undefined;
}

/**
 * Links the identity the person agreed to link. A connection deleted between the look and the
 * insert links nothing (linkProvenIdentity says gone), as a deleted connection's links all went.
 */
async function linkAgreed(ctx: Context, deps: InteractionDeps, accountId: string, { link, connection }: LinkToAsk) {
  await linkProvenIdentity(interactionContext(ctx, deps), {
    connectionId: connection.id,
    subject: link.subject,
    userId: accountId,
    email: link.email,
  });
}

function linkPrompt({ db }: PromptDeps): interactionPolicy.Prompt {
  return new interactionPolicy.Prompt(
    { name: NAME, requestable: false },
    new interactionPolicy.Check('identity_link_pending', 'an upstream identity waits to be linked to this account', async (ctx) => {
      // No connection, no federated sign-in, nothing to link: every sign-in's cost, kept at nothing.
      if (ctx.oidc.prompts.has('none') || !(await anyConnections(db))) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const pending = await pendingLink(db, ctx.oidc.entities.Interaction?.cid, ctx.oidc.session?.accountId);
      return pending ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );
}

async function renderLink(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps) {
  const pending = await pendingLink(deps.db, interaction.cid, interaction.session?.accountId);
  // Gone meanwhile (another tab answered, it expired, its connection went): nothing to ask.
  if (!pending) return finishInteraction(ctx, deps, {});
  const { connection, link } = pending;
  ctx.type = 'html';
  ctx.body = await renderPage('identity-link', {
    title: `Link ${connection.display_name}`,
    uid: interaction.uid,
    provider: connection.display_name,
    email: link.email,
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

export const identityLinkStep: InteractionStep = {
  name: NAME,
  prompt: linkPrompt,
  render: (ctx, interaction, deps) => renderLink(ctx, interaction, deps),
  routes(router, deps) {
    router.post(`/interaction/:uid/${NAME}`, formBody, async (ctx) => {
      const { interaction, form, accountId } = await signedInPromptForm(ctx, deps, NAME);
      const pending = await pendingLink(deps.db, interaction.cid, accountId);
      await closeFlow(deps.db, identityLinkFlow(interaction.cid));
      if (pending && form.decision === 'link') await linkAgreed(ctx, deps, accountId, pending);
      await finishInteraction(ctx, deps, {});
    });
  },
};
