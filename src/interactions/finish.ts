// Ending an interaction: hand the result to oidc-provider and follow its redirect back to the
// authorization endpoint. 303 so the browser turns the POST into a GET.
import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import type { InteractionDeps } from './types.ts';

export async function finishInteraction(ctx: Context, deps: InteractionDeps, result: InteractionResults): Promise<void> {
  const url = await deps.provider().interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(url);
}

export function accessDenied(description: string): InteractionResults {
  return { error: 'access_denied', error_description: description };
}
