// How a sign-in method hands over to the prompt it serves: it records what it proved on the
// interaction and asks the waiting step to go on (finish, or show what is still needed); or it
// asks the step to show its screen again with what went wrong.
import type { Context } from 'koa';
import type { InteractionDeps, InteractionDetails, InteractionStep, ScreenState } from './types.ts';
import { PIPELINE } from './pipeline.ts';
import { interactionFlow, recordVerified } from '../verifications/index.ts';
import { audit, type AuditEvent, type AuditType } from '../audit/index.ts';
import { UserFacingError } from '../http/errors.ts';
import type { User } from '../accounts/index.ts';

function stepOf(interaction: InteractionDetails): InteractionStep {
  const step = PIPELINE.find((s) => s.name === interaction.prompt.name);
  if (!step) throw new UserFacingError(500, 'Something went wrong', 'This sign-in step is not available.');
  return step;
}

export interface MethodProof {
  method: string;
  userId: string;
  amr: string[];
  /** The account as the method read it, so the step need not read it again. */
  user?: User;
}

/** Records what a method proved in this interaction, and lets the waiting step go on. */
export async function proved(ctx: Context, deps: InteractionDeps, interaction: InteractionDetails, proof: MethodProof): Promise<void> {
  await recordVerified(deps.db, { flow: interactionFlow(interaction.uid), method: proof.method, userId: proof.userId, amr: proof.amr });
  const step = stepOf(interaction);
  if (!step.proceed)
    throw new UserFacingError(400, 'This step is already done', 'This page is out of date. Return to the application and start again.');
  await step.proceed(ctx, interaction, deps, proof.user);
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
