// The terms prompt: once signed in, a user who has not accepted the current version of a
// mandatory document (terms of service, privacy policy: POLICIES_FILE) accepts it before going
// on; optional documents never answered, and purposes declared ask_at_sign_in never answered at
// their current version, are offered on the same screen (opt-in: never pre-ticked). Publishing a
// new version in the file makes the next sign-in of everyone who accepted an older one ask
// again, with a link to what changed. After mfa, so only someone fully signed in can accept.
//
//   check            asks when
//   terms_pending    a mandatory document is not accepted at its current version (prompt=none:
//                    interaction_required, the relying party must show the screen)
//   terms_offered    an optional document or an ask_at_sign_in purpose was never answered at its
//                    current version (never for prompt=none: nothing optional stands in its way)
//
//   POST /interaction/:uid/terms   decision=accept|decline, accept_<document>, consent_<purpose>
//
// Declining a mandatory document ends the sign-in with access_denied; its decline is recorded,
// and the next sign-in asks again.
import type { Context } from 'koa';
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { InteractionDeps, InteractionDetails, InteractionStep, PromptDeps } from '../types.ts';
import { csrfToken } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { accessDenied, finishInteraction } from '../finish.ts';
import { formBody, signedInAccountOf, signedInPromptForm } from '../interactionRequest.ts';
import { interactionContext } from '../login/serviceContext.ts';
import type { ServiceContext } from '../../changes/index.ts';
import type { Db } from '../../db/index.ts';
import { localized, preferredLanguages } from '../../http/language.ts';
import {
  pendingDocuments,
  purposesToAsk,
  recordSignInAnswer,
  type PendingDocument,
  type Policies,
  type Purpose,
} from '../../policies/index.ts';

const NAME = 'terms';
const { Check, Prompt } = interactionPolicy;

const acceptField = (documentId: string) => `accept_${documentId}`;
const consentField = (purposeId: string) => `consent_${purposeId}`;

/** What the user is asked now: read from the database and the policies in force, at each request. */
interface Questions {
  documents: PendingDocument[];
  purposes: Purpose[];
}

async function questionsFor(db: Db, userId: string, policies: Policies): Promise<Questions> {
  const nothingDeclared = !policies.documents.length && !policies.purposes.some((p) => p.ask_at_sign_in);
  if (nothingDeclared) return { documents: [], purposes: [] };
  const [documents, purposes] = await Promise.all([pendingDocuments(db, userId, policies), purposesToAsk(db, userId, policies)]);
  return { documents, purposes };
}

const hasQuestions = (questions: Questions) => questions.documents.length > 0 || questions.purposes.length > 0;
const mandatoryPending = (questions: Questions) => questions.documents.some((p) => p.document.mandatory);

// Both checks ask the same questions: read once per request.
const perRequest = new WeakMap<object, Promise<Questions>>();

function questionsOfRequest({ db, config }: PromptDeps, ctx: KoaContextWithOIDC): Promise<Questions> {
  let questions = perRequest.get(ctx);
  if (!questions) {
    const accountId = ctx.oidc.session?.accountId;
    questions = accountId
      ? questionsFor(db, accountId, config.declarations.current().policies)
      : Promise.resolve({ documents: [], purposes: [] });
    perRequest.set(ctx, questions);
  }
  return questions;
}

function termsPrompt(deps: PromptDeps): interactionPolicy.Prompt {
  return new Prompt(
    { name: NAME, requestable: false },
    new Check('terms_pending', 'the End-User must accept the current terms', 'interaction_required', async (ctx) =>
      mandatoryPending(await questionsOfRequest(deps, ctx)) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
    new Check('terms_offered', 'the End-User has documents or purposes to answer', 'interaction_required', async (ctx) =>
      !ctx.oidc.prompts.has('none') && hasQuestions(await questionsOfRequest(deps, ctx)) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
}

/** What the screen shows besides the questions: an error, its status, and what was ticked. */
interface TermsScreen {
  error?: string;
  status?: number;
  ticked?: Ticked;
}

interface Ticked {
  documents: Set<string>;
  purposes: Set<string>;
}

async function showTerms(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, screen: TermsScreen = {}) {
  const questions = await questionsFor(deps.db, signedInAccountOf(interaction), deps.config.declarations.current().policies);
  // Answered meanwhile (another tab), or the file changed: nothing to ask, go on.
  if (!hasQuestions(questions)) return finishInteraction(ctx, deps, {});
  const languages = preferredLanguages(ctx, interaction.params.ui_locales);
  const ticked = screen.ticked ?? { documents: new Set(), purposes: new Set() };
  ctx.status = screen.status ?? 200;
  ctx.type = 'html';
  ctx.body = await renderPage('terms', {
    title: 'Before you continue',
    uid: interaction.uid,
    error: screen.error,
    updated: questions.documents.some((p) => p.previouslyAccepted),
    documents: questions.documents.map(({ document, previouslyAccepted }) => ({
      field: acceptField(document.id),
      title: localized(document.title, languages),
      version: document.version,
      url: document.url,
      changesUrl: previouslyAccepted ? document.changes_url : undefined,
      mandatory: document.mandatory,
      ticked: ticked.documents.has(document.id),
    })),
    purposes: questions.purposes.map((purpose) => ({
      field: consentField(purpose.id),
      label: localized(purpose.label, languages),
      description: purpose.description && localized(purpose.description, languages),
      ticked: ticked.purposes.has(purpose.id),
    })),
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

/** The boxes ticked among those asked (anything else posted is ignored). */
function tickedIn(form: Record<string, unknown>, questions: Questions): Ticked {
  const ticked = (field: string) => typeof form[field] === 'string' && form[field] !== '';
  return {
    documents: new Set(questions.documents.map((p) => p.document.id).filter((id) => ticked(acceptField(id)))),
    purposes: new Set(questions.purposes.map((p) => p.id).filter((id) => ticked(consentField(id)))),
  };
}

function serviceContext(ctx: Context, deps: InteractionDeps, userId: string): ServiceContext {
  return { ...interactionContext(ctx, deps), actor: { type: 'user', id: userId } };
}

const titleList = (titles: string[]) => (titles.length > 1 ? `${titles.slice(0, -1).join(', ')} and ${titles.at(-1)}` : titles[0]);

async function answerTerms(ctx: Context, deps: InteractionDeps) {
  const { interaction, form, accountId: userId } = await signedInPromptForm(ctx, deps, NAME);
  const policies = deps.config.declarations.current().policies;
  const questions = await questionsFor(deps.db, userId, policies);
  const ticked = tickedIn(form, questions);
  const decision = form.decision;
  if (decision !== 'accept' && decision !== 'decline') {
    return showTerms(ctx, interaction, deps, { status: 400, error: 'Choose “Accept and continue” or “Decline”.', ticked });
  }
  const declining = decision === 'decline';
  const unticked = questions.documents.filter((p) => !ticked.documents.has(p.document.id));
  const missing = unticked.filter((p) => p.document.mandatory);
  if (!declining && missing.length) {
    const languages = preferredLanguages(ctx, interaction.params.ui_locales);
    const titles = missing.map((p) => localized(p.document.title, languages));
    return showTerms(ctx, interaction, deps, { status: 400, error: `To continue, accept the ${titleList(titles)}.`, ticked });
  }
  const endsSignIn = declining && mandatoryPending(questions);
  await recordSignInAnswer(serviceContext(ctx, deps, userId), {
    userId,
    policies,
    clientId: String(interaction.params.client_id),
    // Accepting leaves an optional document unticked: that is declining it, until its next version.
    accepted: declining ? [] : [...ticked.documents],
    declined: (declining ? questions.documents : unticked).map((p) => p.document.id),
    // A sign-in that ends here asks about the purposes again next time; otherwise each asked
    // purpose is answered (unticked: not granted), and not asked again until its next version.
    consents: endsSignIn ? [] : questions.purposes.map((p) => ({ purpose: p.id, granted: ticked.purposes.has(p.id) })),
  });
  if (endsSignIn) return finishInteraction(ctx, deps, accessDenied('End-User declined the terms'));
  await finishInteraction(ctx, deps, {});
}

export const termsStep: InteractionStep = {
  name: NAME,
  prompt: termsPrompt,
  render: (ctx, interaction, deps, screen) => showTerms(ctx, interaction, deps, { error: screen?.error?.message, status: screen?.status }),
  routes(router, deps) {
    router.post(`/interaction/:uid/${NAME}`, formBody, (ctx) => answerTerms(ctx, deps));
  },
};
