// Shared request plumbing for interaction routes: loading the interaction bound to this browser,
// checking it waits on the expected prompt (form bodies: http/requestBodies.ts).
import type { Context } from 'koa';
import type { InteractionDeps, InteractionDetails } from './types.ts';
import { UserFacingError } from '../http/errors.ts';
import { verifyCsrf } from '../http/csrf.ts';

export async function loadInteraction(ctx: Context, deps: InteractionDeps): Promise<InteractionDetails> {
  // Throws SessionNotFound when the interaction cookie is missing, expired or for another uid.
  const interaction = await deps.provider().interactionDetails(ctx.req, ctx.res);
  if (interaction.uid !== ctx.params.uid) {
    throw new UserFacingError(
      400,
      'This sign-in has expired',
      'Your sign-in session was not found or has expired. Return to the application and start again.',
    );
  }
  return interaction;
}

export function requirePrompt(interaction: InteractionDetails, name: string): void {
  if (interaction.prompt.name !== name) {
    throw new UserFacingError(400, 'This step is already done', 'This page is out of date. Return to the application and start again.');
  }
}

/** An interaction past the login prompt with no account in it: it outlived its sign-in. */
export const SIGN_IN_EXPIRED = new UserFacingError(400, 'This sign-in has expired', 'Return to the application and start again.');

/** The account a prompt after the login prompt is for. */
export function signedInAccountOf(interaction: InteractionDetails): string {
  const accountId = interaction.session?.accountId;
  if (!accountId) throw SIGN_IN_EXPIRED;
  return accountId;
}

/**
 * A form posted to a prompt that runs once someone is signed in (mfa done): the interaction,
 * checked to wait on `prompt`, its form with the CSRF token checked, and the account.
 */
export async function signedInPromptForm(ctx: Context, deps: InteractionDeps, prompt: string) {
  const interaction = await loadInteraction(ctx, deps);
  requirePrompt(interaction, prompt);
  const form = (ctx.request.body ?? {}) as Record<string, unknown>;
  verifyCsrf(ctx, `interaction:${interaction.uid}`, form._csrf);
  return { interaction, form, accountId: signedInAccountOf(interaction) };
}

export { formBody } from '../http/requestBodies.ts';
