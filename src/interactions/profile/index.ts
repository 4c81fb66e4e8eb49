// The profile prompt: after someone has signed in (and accepted the terms), ask for what the
// profile schema's rules say this sign-in needs and the profile lacks (or holds but is due to be
// confirmed again): one screen drawn from the schema, at most prompt.max_per_screen attributes at
// a time, required ones first. "Skip for now" puts off the optional ones for their cool-down; a
// required one cannot be skipped. What is given is stored before the sign-in goes on, so the
// tokens of this very sign-in carry it. More than a screen's worth: the prompt comes back.
//
//   POST /interaction/:uid/profile        the answers (action=continue), or action=skip
import type { Context } from 'koa';
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { InteractionDeps, InteractionDetails, InteractionStep, PromptDeps } from '../types.ts';
import { csrfToken } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { preferredLanguages } from '../../http/language.ts';
import { finishInteraction } from '../finish.ts';
import { formBody, signedInAccountOf, signedInPromptForm } from '../interactionRequest.ts';
import { interactionContext } from '../login/serviceContext.ts';
import { PROFILE_CLAIMS } from '../../oidc/features/core.ts';
import { asksAfterSignIn, dueAttributes, type DueAttribute } from '../../profile/rules.ts';
import { requestedClaims } from '../../profile/claims.ts';
import { answerProfile, readProfileFacts } from '../../profile/service.ts';
import { attributeField, comparedWith, fieldValues, postedValues, readProfileForm } from '../../profile/form.ts';

const NAME = 'profile';
const DAY = 24 * 3600 * 1000;

/** What the check decided to ask, as it travels in the interaction's prompt details. */
interface AskedDetail {
  name: string;
  required: boolean;
  reconfirm: boolean;
}

// The check works out what is due; its details hand that to the screen (same request, same ctx).
const decided = new WeakMap<object, DueAttribute[]>();

async function dueNow(deps: PromptDeps, ctx: KoaContextWithOIDC): Promise<DueAttribute[]> {
  const accountId = ctx.oidc.session?.accountId;
  const schema = deps.config.declarations.current().profile;
  // No rule asks anything after a sign-in: nothing to read (the default, and every sign-in's cost).
  if (!accountId || !ctx.oidc.client || !asksAfterSignIn(schema)) return [];
  const facts = await readProfileFacts(deps.db, accountId);
  if (!facts) return [];
  return dueAttributes(schema, {
    clientId: ctx.oidc.client.clientId,
    requestedClaims: requestedClaims(schema, PROFILE_CLAIMS, ctx.oidc.requestParamScopes, ctx.oidc.requestParamClaims),
    signIns: facts.signIns,
    now: new Date(),
    profile: facts.profile,
    states: facts.states,
  });
}

function profilePrompt(deps: PromptDeps): interactionPolicy.Prompt {
  return new interactionPolicy.Prompt(
    { name: NAME, requestable: false },
    new interactionPolicy.Check(
      'profile_incomplete',
      'the profile lacks attributes this sign-in asks for',
      async (ctx) => {
        const due = await dueNow(deps, ctx);
        // prompt=none shows no screen: optional questions wait for a sign-in that can; a required
        // one makes the request fail (interaction_required), as the client cannot do without it.
        if (!due.length || (ctx.oidc.prompts.has('none') && !due.some((d) => d.required))) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        decided.set(ctx, due);
        return interactionPolicy.Check.REQUEST_PROMPT;
      },
      (ctx) => ({
        ask: (decided.get(ctx) ?? []).map((d): AskedDetail => ({ name: d.attribute.name, required: d.required, reconfirm: d.reconfirm })),
      }),
    ),
  );
}

/** What this interaction asks for, as attributes of the schema in force (one removed since is dropped). */
function askedOf(interaction: InteractionDetails, deps: InteractionDeps): DueAttribute[] {
  const schema = deps.config.declarations.current().profile;
  return ((interaction.prompt.details as { ask?: AskedDetail[] }).ask ?? []).flatMap((detail) => {
    const attribute = schema.byName.get(detail.name);
    return attribute ? [{ attribute, required: detail.required, reconfirm: detail.reconfirm }] : [];
  });
}

interface ProfileScreen {
  values?: Record<string, string>;
  errors?: Record<string, string>;
  error?: string;
  status?: number;
}

async function renderProfile(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, screen: ProfileScreen = {}) {
  const accountId = signedInAccountOf(interaction);
  const asked = askedOf(interaction, deps);
  const facts = await readProfileFacts(deps.db, accountId);
  const languages = preferredLanguages(ctx, interaction.params.ui_locales);
  const client = await deps.provider().Client.find(String(interaction.params.client_id));
  // What the profile holds is shown filled in: a value due for confirming, or one given elsewhere.
  const stored = Object.assign({}, ...asked.map(({ attribute }) => fieldValues(attribute, facts?.profile[attribute.name])));
  ctx.status = screen.status ?? 200;
  ctx.type = 'html';
  ctx.body = await renderPage('profile', {
    title: 'A few more details',
    uid: interaction.uid,
    clientName: client?.clientName ?? client?.clientId,
    fields: asked.map(({ attribute, required }) => attributeField(attribute, required, languages)),
    confirming: asked.some((a) => a.reconfirm),
    values: screen.values ?? stored,
    errors: screen.errors ?? {},
    error: screen.error,
    canSkip: asked.every((a) => !a.required),
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

async function answer(ctx: Context, deps: InteractionDeps) {
  const { interaction, form, accountId } = await signedInPromptForm(ctx, deps, NAME);
  const asked = askedOf(interaction, deps);
  const languages = preferredLanguages(ctx, interaction.params.ui_locales);
  const posted = Object.assign({}, ...asked.map(({ attribute }) => postedValues(attribute, form)));
  const now = Date.now();
  const putOff = (names: string[]) =>
    asked
      .filter((a) => names.includes(a.attribute.name))
      .map((a) => ({ attribute: a.attribute.name, until: new Date(now + a.attribute.skipCooldownDays * DAY) }));

  if (form.action === 'skip') {
    const required = asked.filter((a) => a.required);
    if (required.length) {
      const errors = Object.fromEntries(required.map((a) => [a.attribute.name, 'This is needed to continue']));
      return renderProfile(ctx, interaction, deps, { values: posted, errors, error: 'These details cannot be skipped.', status: 400 });
    }
    await answerProfile(
      interactionContext(ctx, deps),
      accountId,
      { values: {}, confirmed: [], skipped: putOff(asked.map((a) => a.attribute.name)) },
      String(interaction.params.client_id),
    );
    return finishInteraction(ctx, deps, {});
  }

  const read = readProfileForm(asked, form, languages);
  if (Object.keys(read.problems).length)
    return renderProfile(ctx, interaction, deps, { values: posted, errors: read.problems, error: 'Check the fields below.', status: 400 });
  const facts = await readProfileFacts(deps.db, accountId);
  const { changed, unchanged: confirmed } = comparedWith(facts?.profile ?? {}, read.values);
  await answerProfile(
    interactionContext(ctx, deps),
    accountId,
    { values: changed, confirmed, skipped: putOff(read.empty) },
    String(interaction.params.client_id),
  );
  await finishInteraction(ctx, deps, {});
}

export const profileStep: InteractionStep = {
  name: NAME,
  prompt: profilePrompt,
  render: (ctx, interaction, deps) => renderProfile(ctx, interaction, deps),
  routes(router, deps) {
    router.post(`/interaction/:uid/${NAME}`, formBody, (ctx) => answer(ctx, deps));
  },
};
