// "Create account", reached from the sign-in screen. The form is drawn from a list of fields
// (email and password today; the profile schema adds its sign-up attributes to the same list),
// checked on the server with a message next to each field, and shown again with what was typed
// (never the password). Whatever the address, it ends on "check your email" (registration.ts).
import type { Context } from 'koa';
import type Router from '@koa/router';
import type { InteractionDeps, InteractionDetails } from '../types.ts';
import { csrfToken, verifyCsrf } from '../../http/csrf.ts';
import { renderPage } from '../../http/views.ts';
import { loadInteraction, requirePrompt, formBody } from '../interactionRequest.ts';
import { normalizedEmail, registerUser, type SignupReceipt } from '../../accounts/index.ts';
import { InvalidInputError } from '../../errors/index.ts';
import { UserFacingError } from '../../http/errors.ts';
import { PASSWORD_MAX_LENGTH } from '../../accounts/passwords/index.ts';
import { showCheckEmail } from './checkEmail.ts';
import { interactionContext } from './serviceContext.ts';

export interface FormField {
  name: string;
  label: string;
  type: 'email' | 'password' | 'text' | 'tel' | 'date';
  autocomplete: string;
  required: boolean;
  /** Shown again after an error (never for secrets). */
  keep: boolean;
  hint?: string;
  maxlength: number;
}

export function signupFields(deps: InteractionDeps): FormField[] {
  return [
    { name: 'email', label: 'Email', type: 'email', autocomplete: 'email', required: true, keep: true, maxlength: 254 },
    {
      name: 'password',
      label: 'Password',
      type: 'password',
      autocomplete: 'new-password',
      required: true,
      keep: false,
      hint: `At least ${deps.config.passwordMinLength} characters. A few unrelated words make a strong one.`,
      maxlength: PASSWORD_MAX_LENGTH,
    },
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
    clientName: client?.clientName ?? client?.clientId,
    fields: signupFields(deps),
    values: screen.values ?? {},
    errors: screen.errors ?? {},
    error: screen.error,
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

export function signupRoutes(router: Router, deps: InteractionDeps): void {
  router.get('/interaction/:uid/signup', async (ctx) => {
    const interaction = await loadInteraction(ctx, deps);
    requirePrompt(interaction, 'login');
    await refuseUnlessAllowed(interaction, deps);
    await renderSignup(ctx, interaction, deps);
  });

  router.post('/interaction/:uid/signup', formBody, async (ctx) => {
    const interaction = await loadInteraction(ctx, deps);
    requirePrompt(interaction, 'login');
    const form = ctx.request.body as Record<string, unknown>;
    verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
    await refuseUnlessAllowed(interaction, deps);
    const fields = signupFields(deps);
    const input = Object.fromEntries(fields.map((f) => [f.name, typeof form[f.name] === 'string' ? form[f.name] : '']));
    const kept = Object.fromEntries(fields.filter((f) => f.keep).map((f) => [f.name, String(input[f.name]).slice(0, f.maxlength)]));
    const tooMany = (await deps.abuse.registration.attempt(ctx.ip)).allowed
      ? await deps.abuse.mailToAddress.attempt(await normalizedEmail(deps.db, String(input.email)))
      : { allowed: false as const, retryAfterSeconds: 3600 };
    if (!tooMany.allowed) {
      ctx.set('Retry-After', String(tooMany.retryAfterSeconds));
      const error = 'Too many accounts or emails asked for from here. Try again later.';
      return renderSignup(ctx, interaction, deps, { values: kept, error, status: 429 });
    }
    let receipt: SignupReceipt;
    try {
      receipt = await registerUser(interactionContext(ctx, deps), deps.accounts, input, {
        interactionUid: interaction.uid,
        clientId: String(interaction.params.client_id),
      });
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      const errors = Object.fromEntries(error.fields.map((p) => [p.path.split('.')[0] || 'email', p.message]));
      return renderSignup(ctx, interaction, deps, { values: kept, errors, error: 'Check the fields below.', status: 400 });
    }
    showCheckEmail(ctx, deps, interaction.uid, receipt);
  });
}
