// How a sign-in method hands over to the prompt it serves: it gives the waiting step what it
// proved (the step finishes, or keeps it as a verification record and shows what is still
// needed); or it asks the step to show its screen again with what went wrong.
import type { Context } from 'koa';
import type { InteractionDeps, InteractionDetails, InteractionStep, MethodProof, ScreenState } from './types.ts';
import { PIPELINE } from './pipeline.ts';
import { audit, type AuditEvent, type AuditType } from '../audit/index.ts';
import { UserFacingError } from '../http/errors.ts';

function stepOf(interaction: InteractionDetails): InteractionStep {
  const step = PIPELINE.find((s) => s.name === interaction.prompt.name);
  if (!step) throw new UserFacingError(500, 'Something went wrong', 'This sign-in step is not available.');
  return step;
}

/** Hands what a method proved to the step the interaction waits on, which goes on from there. */
export async function proved(ctx: Context, deps: InteractionDeps, interaction: InteractionDetails, proof: MethodProof): Promise<void> {
  const step = stepOf(interaction);
  if (!step.proceed)
    throw new UserFacingError(400, 'This step is already done', 'This page is out of date. Return to the application and start again.');
  await step.proceed(ctx, interaction, deps, proof);
}

/** Shows the waiting step's screen again, with what went wrong. */
export async function showScreen(ctx: Context, deps: InteractionDeps, interaction: InteractionDetails, screen: ScreenState): Promise<void> {
  await stepOf(interaction).render(ctx, interaction, deps, screen);
}

/** Writes a sign-in audit record about this interaction's client, IP and request. */
export function signInAudit(ctx: Context, deps: InteractionDeps, interaction: InteractionDetails) {
  return (type: AuditType, extra: Partial<AuditEvent> = {}) =>
    audit(deps.db, { type, clientId: String(interaction.params.client_id), ip: ctx.ip, requestId: ctx.state.requestId, ...extra });
}
