// The Profile page: what the profile holds, as the profile schema shows it to its owner. The
// attributes the schema lets them edit are one form (drawn and checked like the sign-up form and
// the profile prompt); the others they may see are listed. A standard claim the operator's
// schema does not name appears only when it holds a value. A required attribute cannot be
// emptied; an optional one left empty is removed. Editing needs no recent sign-in: the profile
// holds no way to sign in (the email, which does, changes on its own page with a confirmation).
import type { Context } from 'koa';
import type { AccountAreaDeps, AccountSection } from './types.ts';
import { accountChangeContext, renderAccountPage, verifyAccountCsrf } from './pages.ts';
import { signedInAccount } from './recentSignIn.ts';
import { field, formBody } from '../http/requestBodies.ts';
import { localized, preferredLanguages } from '../http/language.ts';
import type { Attribute } from '../profile/schema.ts';
import { attributeField, comparedWith, fieldValues, postedValues, readProfileForm } from '../profile/form.ts';
import { answerProfile, readProfileFacts } from '../profile/service.ts';
import { isEmpty, type AddressValue } from '../profile/values.ts';

export const PROFILE_PATH = '/account/profile';

/** The attributes this page shows its owner: visible ones, declared or holding a value. */
function shownAttributes(deps: AccountAreaDeps, profile: Record<string, unknown>): Attribute[] {
  return deps.config.declarations.current().profile.attributes.filter((a) => a.userVisible && (a.declared || !isEmpty(profile[a.name])));
}

/** A value as its owner reads it. */
function shownValue(attribute: Attribute, value: unknown, languages: readonly string[]): string {
  if (isEmpty(value)) return '—';
  if (attribute.type === 'boolean') return value ? 'Yes' : 'No';
  if (attribute.type === 'enum') {
    const option = attribute.values?.find((v) => v.value === value);
    return option ? localized(option.label, languages) : String(value);
  }
  if (attribute.type === 'address') {
    const a = value as AddressValue;
    return [a.street_address, [a.postal_code, a.locality].filter(Boolean).join(' '), a.region, a.country].filter(Boolean).join(', ');
  }
  return String(value);
}

interface ProfileScreen {
  values?: Record<string, string>;
  errors?: Record<string, string>;
  status?: number;
}

async function profilePage(ctx: Context, deps: AccountAreaDeps, screen: ProfileScreen = {}) {
  const { user } = signedInAccount(ctx);
  const facts = await readProfileFacts(deps.db, user.id);
  const profile = facts?.profile ?? {};
  const languages = preferredLanguages(ctx);
  const shown = shownAttributes(deps, profile);
  const editable = shown.filter((a) => a.userEditable);
  await renderAccountPage(ctx, 'profile', {
    title: 'Profile',
    status: screen.status,
    saved: ctx.query.done === 'saved',
    fields: editable.map((a) => attributeField(a, a.required, languages)),
    values: screen.values ?? Object.assign({}, ...editable.map((a) => fieldValues(a, profile[a.name]))),
    errors: screen.errors ?? {},
    readOnly: shown
      .filter((a) => !a.userEditable)
      .map((a) => ({ label: localized(a.label, languages), value: shownValue(a, profile[a.name], languages) })),
    action: PROFILE_PATH,
  });
}

async function saveProfile(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  const { user } = signedInAccount(ctx);
  const profile = (await readProfileFacts(deps.db, user.id))?.profile ?? {};
  const editable = shownAttributes(deps, profile).filter((a) => a.userEditable);
  const form = ctx.request.body as Record<string, unknown>;
  const read = readProfileForm(
    editable.map((attribute) => ({ attribute, required: attribute.required })),
    form,
    preferredLanguages(ctx),
  );
  if (Object.keys(read.problems).length) {
    const values = Object.assign({}, ...editable.map((a) => postedValues(a, form)));
    return profilePage(ctx, deps, { values, errors: read.problems, status: 400 });
  }
  const changed = {
    ...comparedWith(profile, read.values).changed,
    // Emptied: removed (only optional attributes can be; readProfileForm refused required ones).
    ...Object.fromEntries(read.empty.filter((name) => !isEmpty(profile[name])).map((name) => [name, null])),
  };
  await answerProfile(accountChangeContext(ctx, deps), user.id, { values: changed, confirmed: [], skipped: [] });
  ctx.status = 303;
  ctx.redirect(`${PROFILE_PATH}?done=saved`);
}

export const profileSection: AccountSection = {
  label: 'Profile',
  path: PROFILE_PATH,
  summary: 'Your name and the details you gave us',
  routes(router, deps) {
    router.get(PROFILE_PATH, (ctx) => profilePage(ctx, deps));
    router.post(PROFILE_PATH, formBody, (ctx) => saveProfile(ctx, deps));
  },
};
