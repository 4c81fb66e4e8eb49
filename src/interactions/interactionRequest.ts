// Shared request plumbing for interaction routes: loading the interaction bound to this browser,
// checking it waits on the expected prompt (form bodies: http/requestBodies.ts).
import type { Context } from 'koa';
import type { InteractionDeps, InteractionDetails } from './types.ts';
import { UserFacingError } from '../http/errors.ts';

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

export { formBody } from '../http/requestBodies.ts';
