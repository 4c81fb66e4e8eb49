// Shared request plumbing for interaction routes: loading the interaction bound to this browser,
// checking it waits on the expected prompt, and parsing form bodies with tight limits.
import type { Context, Next } from 'koa';
import bodyParser from 'koa-bodyparser';
import type { InteractionDeps, InteractionDetails } from './types.ts';
import { UserFacingError } from '../http/errors.ts';
import { containsNul } from '../db/text.ts';

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

const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '16kb', strict: true });

/** Parses an urlencoded form; anything else is refused with 415 rather than half-understood. */
export async function formBody(ctx: Context, next: Next) {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw Object.assign(new Error('unsupported content type'), { status: 415 });
  }
  await parseForm(ctx, async () => {
    if (containsNul(ctx.request.body)) {
      throw new UserFacingError(400, 'Bad request', 'The form contains characters we do not accept.');
    }
    await next();
  });
}
