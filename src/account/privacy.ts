// The Privacy page: the documents the person accepted (which version, when) with links to them,
// and the purposes they may consent to, each with its current state, to change at any time.
// Saving appends to the consent ledger only what changed (source 'account'); a purpose ticked
// that was granted at an earlier version is granted again at the current one, since the person
// has now seen what it says. Changing a consent needs no recent sign-in: it widens nothing an
// intruder could use against the account.
import type { Context } from 'koa';
import type { AccountAreaDeps, AccountSection } from './types.ts';
import { accountChangeContext, renderAccountPage, verifyAccountCsrf } from './pages.ts';
import { signedInAccount } from './recentSignIn.ts';
import { field, formBody } from '../http/requestBodies.ts';
import { localized, preferredLanguages } from '../http/language.ts';
import { shownDate } from './security/part.ts';
import { currentConsents, documentStatuses, recordConsents, type ConsentDecision, type ConsentState } from '../policies/index.ts';

export const PRIVACY_PATH = '/account/privacy';
const CONSENTS_PATH = `${PRIVACY_PATH}/consents`;
const consentField = (purposeId: string) => `consent_${purposeId}`;

async function privacyPage(ctx: Context, deps: AccountAreaDeps) {
  const { user } = signedInAccount(ctx);
  const policies = deps.config.declarations.current().policies;
  const languages = preferredLanguages(ctx);
  const [documents, consents] = await Promise.all([
    documentStatuses(deps.db, user.id, policies),
    currentConsents(deps.db, user.id, policies),
  ]);
  await renderAccountPage(ctx, 'privacy', {
    title: 'Privacy',
    saved: ctx.query.done === 'saved',
    documents: documents.map(({ document, accepted }) => ({
      id: document.id,
      title: localized(document.title, languages),
      url: document.url,
      version: document.version,
      accepted: accepted && { version: accepted.version, at: shownDate(accepted.at), current: accepted.version === document.version },
    })),
    purposes: consents.map(({ purpose, granted, decision }) => ({
      field: consentField(purpose.id),
      label: localized(purpose.label, languages),
      description: purpose.description && localized(purpose.description, languages),
      granted,
      decidedAt: decision && shownDate(decision.at),
    })),
    action: CONSENTS_PATH,
  });
}

/**
 * What a save changes: a purpose whose box differs from its state, or one ticked that was
 * granted at an older version. Leaving a box as it was (unticked and never decided included)
 * records nothing.
 */
function changedDecisions(ctx: Context, consents: ConsentState[]): ConsentDecision[] {
  return consents.flatMap(({ purpose, granted, decision }) => {
    const ticked = field(ctx, consentField(purpose.id)) !== '';
    const regrant = ticked && granted && decision?.version !== purpose.version;
    return ticked !== granted || regrant ? [{ purpose: purpose.id, granted: ticked }] : [];
  });
}

async function saveConsents(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  const { user } = signedInAccount(ctx);
  const policies = deps.config.declarations.current().policies;
  const decisions = changedDecisions(ctx, await currentConsents(deps.db, user.id, policies));
  await recordConsents(accountChangeContext(ctx, deps), { userId: user.id, policies, decisions, source: 'account' });
  ctx.status = 303;
  ctx.redirect(`${PRIVACY_PATH}?done=saved`);
}

export const privacySection: AccountSection = {
  label: 'Privacy',
  path: PRIVACY_PATH,
  summary: 'The terms you accepted, and what you agree we may do',
  routes(router, deps) {
    router.get(PRIVACY_PATH, (ctx) => privacyPage(ctx, deps));
    router.post(CONSENTS_PATH, formBody, (ctx) => saveConsents(ctx, deps));
  },
};
