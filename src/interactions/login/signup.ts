// "Create account", reached from the sign-in screen. The form is drawn from a list of fields
// (email and password today; the profile schema adds its sign-up attributes to the same list),
// checked on the server with a message next to each field, and shown again with what was typed
// (never the password). Whatever the address, it ends on "check your email" (registration.ts).
//
// Where the deployment allows it (PASSKEY_SIGNUP_ENABLED), the same screen offers an account with
// a passkey and no password: POST …/signup/passkey/options takes the address and answers
// creation options for the id the new account will take (its challenge kept as a verification
// record of the interaction), and POST …/signup/passkey takes the new passkey. The address is
// proved by the emailed code as for any sign-up; an address that has an account gets its owner's
// notice and the passkey is dropped, on the same screens.
import type { Context } from 'koa';
import type Router from '@koa/router';
import type { InteractionDeps, InteractionDetails } from '../types.ts';
import { csrfToken, verifyCsrf } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { loadInteraction, requirePrompt, formBody } from '../interactionRequest.ts';
import { normalizedEmail, parsePasskeySignup, registerUser, registerUserWithPasskey, type SignupReceipt } from '../../accounts/index.ts';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../../errors/index.ts';
import { passkeyScripts } from '../../http/staticFiles.ts';
import { passkeyRegistrationOptions, verifyNewPasskey, type NewPasskey } from '../../mfa/passkeys.ts';
import { relyingParty } from '../../mfa/relyingParty.ts';
import { interactionFlow, startVerification, takeChallenge } from '../../verifications/index.ts';
import { InvalidInputError } from '../../errors/index.ts';
import { UserFacingError } from '../../http/errors.ts';
import { PASSWORD_MAX_LENGTH } from '../../accounts/passwords/index.ts';
import { showCheckEmail } from './checkEmail.ts';
import type { FormField } from '../../http/formFields.ts';
import { preferredLanguages } from '../../http/language.ts';
import { signupAttributes } from '../../profile/rules.ts';
import { attributeField, postedValues, readProfileForm } from '../../profile/form.ts';
import { interactionContext } from './serviceContext.ts';
import { anotherWayPath } from './anotherWay.ts';

/** The sign-up form's own fields: what every account has. The profile schema adds its sign-up attributes after them. */
function accountFields(deps: InteractionDeps): FormField[] {
  return [
    { name: 'email', label: 'Email', kind: 'input', type: 'email', autocomplete: 'email', required: true, keep: true, maxlength: 254 },
    {
      name: 'password',
      label: 'Password',
      kind: 'input',
      type: 'password',
      autocomplete: 'new-password',
      required: true,
      keep: false,
      hint: `At least ${deps.config.passwordMinLength} characters. A few unrelated words make a strong one.`,
      maxlength: PASSWORD_MAX_LENGTH,
    },
  ];
}

/** The profile attributes the schema asks for at sign-up to this client. */
function signupProfile(deps: InteractionDeps, interaction: InteractionDetails) {
  return signupAttributes(deps.config.declarations.current().profile, String(interaction.params.client_id));
}

export function signupFields(ctx: Context, deps: InteractionDeps, interaction: InteractionDetails): FormField[] {
  const languages = preferredLanguages(ctx, interaction.params.ui_locales);
  return [
    ...accountFields(deps),
    ...signupProfile(deps, interaction).map(({ attribute, required }) => attributeField(attribute, required, languages)),
  ];
}

/** Whether this deployment, and this client, let people create their own accounts. */
export function signupAllowed(deps: InteractionDeps, client: unknown): boolean {
  return deps.config.signupEnabled && (client as { allow_signup?: boolean } | undefined)?.allow_signup !== false;
}

interface SignupScreen {
  values?: Record<string, string>;
  errors?: Record<string, string>;
  error?: string;
  status?: number;
}

async function renderSignup(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, screen: SignupScreen = {}) {
  const client = await deps.provider().Client.find(String(interaction.params.client_id));
  ctx.status = screen.status ?? 200;
  ctx.type = 'html';
  ctx.body = await renderPage('signup', {
    title: 'Create account',
    uid: interaction.uid,
    // Back to the screen this came from, which a relying party's connection= would skip.
    signIn: anotherWayPath(interaction.uid),
    clientName: client?.clientName ?? client?.clientId,
    fields: signupFields(ctx, deps, interaction),
    values: screen.values ?? {},
    errors: screen.errors ?? {},
    error: screen.error,
    passkeySignup: deps.config.passkeySignupEnabled,
    scripts: deps.config.passkeySignupEnabled ? passkeyScripts('/static/passkey-sign-up.js') : [],
    csrf: csrfToken(ctx, `interaction:${interaction.uid}`),
  });
}

async function refuseUnlessAllowed(interaction: InteractionDetails, deps: InteractionDeps): Promise<void> {
  const client = await deps.provider().Client.find(String(interaction.params.client_id));
  if (!signupAllowed(deps, client)) {
    throw new UserFacingError(
      403,
      'Sign-up is not available',
      'This application does not let you create an account here. Ask its support for an invitation.',
    );
  }
}

const TOO_MANY = 'Too many accounts or emails asked for from here. Try again later.';

/** Takes a sign-up from this source and a mail to this address from the limits; false (with Retry-After) when refused. */
async function mayRegister(ctx: Context, deps: InteractionDeps, email: string): Promise<boolean> {
  const decision = (await deps.abuse.registration.attempt(ctx.ip)).allowed
    ? await deps.abuse.mailToAddress.attempt(await normalizedEmail(deps.db, email))
    : { allowed: false as const, retryAfterSeconds: 3600 };
  if (!decision.allowed) ctx.set('Retry-After', String(decision.retryAfterSeconds));
  return decision.allowed;
}

/** The sign-up screen's request, checked: the interaction, its prompt, the form's CSRF token, sign-up allowed here. */
async function signupRequest(ctx: Context, deps: InteractionDeps) {
  const interaction = await loadInteraction(ctx, deps);
  requirePrompt(interaction, 'login');
  const form = ctx.request.body as Record<string, unknown>;
  verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
  await refuseUnlessAllowed(interaction, deps);
  return { interaction, form };
}

const PASSKEY_SIGNUP = 'passkey_signup';

function passkeySignupRoutes(router: Router, deps: InteractionDeps): void {
  const refuseUnlessEnabled = () => {
    if (!deps.config.passkeySignupEnabled)
      throw new UserFacingError(403, 'Sign-up with a passkey is not available', 'Create your account with a password instead.');
  };

  router.post('/interaction/:uid/signup/passkey/options', formBody, async (ctx) => {
    const { interaction, form } = await signupRequest(ctx, deps);
    refuseUnlessEnabled();
    let email: string;
    try {
      ({ email } = parsePasskeySignup({ email: form.email }));
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      ctx.status = 400;
      ctx.body = { error: error.fields[0]?.message ?? 'Enter a valid email address' };
      return;
    }
    if (!(await mayRegister(ctx, deps, email))) {
      ctx.status = 429;
      ctx.body = { error: TOO_MANY };
      return;
    }
    // The id the account will take: the passkey keeps it as its user handle.
    const userId = randomUUID();
    const { options, challenge } = await passkeyRegistrationOptions(relyingParty(deps.config), { id: userId, email }, []);
    await startVerification(deps.db, {
      flow: interactionFlow(interaction.uid),
      method: PASSKEY_SIGNUP,
      challenge,
      state: { email, userId },
    });
    ctx.type = 'json';
    ctx.body = options;
  });

  router.post('/interaction/:uid/signup/passkey', formBody, async (ctx) => {
    const { interaction, form } = await signupRequest(ctx, deps);
    refuseUnlessEnabled();
    const started = await takeChallenge(deps.db, interactionFlow(interaction.uid), PASSKEY_SIGNUP);
    const { email, userId } = (started?.state ?? {}) as { email?: string; userId?: string };
    let passkey: NewPasskey;
    try {
      passkey = await verifyNewPasskey(relyingParty(deps.config), form.response, started?.challenge);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const message = `${error.message}. Try again, or create your account with a password.`;
      return renderSignup(ctx, interaction, deps, { values: { email: email ?? '' }, error: message, status: 400 });
    }
    const origin = { interactionUid: interaction.uid, clientId: String(interaction.params.client_id) };
    const receipt = await registerUserWithPasskey(
      interactionContext(ctx, deps),
      deps.accounts,
      { email: email as string, userId: userId as string },
      passkey,
      origin,
    );
    // The emailed code is what this sign-in proves (the passkey signs in from the next time on).
    showCheckEmail(ctx, deps, interaction.uid, { ...receipt, amr: ['otp'], factorAdded: true });
  });
}

export function signupRoutes(router: Router, deps: InteractionDeps): void {
  passkeySignupRoutes(router, deps);

  router.get('/interaction/:uid/signup', async (ctx) => {
    const interaction = await loadInteraction(ctx, deps);
    requirePrompt(interaction, 'login');
    await refuseUnlessAllowed(interaction, deps);
    await renderSignup(ctx, interaction, deps);
  });

  router.post('/interaction/:uid/signup', formBody, async (ctx) => {
    const { interaction, form } = await signupRequest(ctx, deps);
    const text = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : '');
    const input = { email: text('email'), password: text('password') };
    const asked = signupProfile(deps, interaction);
    const profile = readProfileForm(asked, form, preferredLanguages(ctx, interaction.params.ui_locales));
    const kept = { email: input.email.slice(0, 254), ...Object.assign({}, ...asked.map(({ attribute }) => postedValues(attribute, form))) };
    if (!(await mayRegister(ctx, deps, input.email))) {
      return renderSignup(ctx, interaction, deps, { values: kept, error: TOO_MANY, status: 429 });
    }
    let receipt: SignupReceipt;
    try {
      receipt = await registerUser(
        interactionContext(ctx, deps),
        deps.accounts,
        { ...input, profile: profile.values },
        { interactionUid: interaction.uid, clientId: String(interaction.params.client_id) },
        profile.problems,
      );
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      const errors = Object.fromEntries(error.fields.map((p) => [p.path.split('.')[0] || 'email', p.message]));
      return renderSignup(ctx, interaction, deps, { values: kept, errors, error: 'Check the fields below.', status: 400 });
    }
    showCheckEmail(ctx, deps, interaction.uid, { ...receipt, amr: ['pwd'] });
  });
}
