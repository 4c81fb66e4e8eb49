// What a person answered on the terms screen of a sign-in: the documents accepted or declined
// and the purposes offered, recorded together, so an answer is either stored whole or not at all.
import type { ServiceContext } from '../changes/index.ts';
import { appendPolicyDecisions, type RecordedDecision } from './acceptances.ts';
import { appendConsents, type ConsentDecision, type ConsentRecord } from './consents.ts';
import type { Policies } from './schema.ts';

export interface SignInAnswer {
  userId: string;
  policies: Policies;
  clientId?: string;
  accepted: readonly string[];
  declined: readonly string[];
  consents: readonly ConsentDecision[];
}

export function recordSignInAnswer(
  ctx: ServiceContext,
  answer: SignInAnswer,
): Promise<{ documents: RecordedDecision[]; consents: ConsentRecord[] }> {
  return ctx.db.transaction(async (trx) => ({
    documents: await appendPolicyDecisions(trx, ctx, answer),
    consents: await appendConsents(trx, ctx, {
      userId: answer.userId,
      policies: answer.policies,
      decisions: answer.consents,
      source: 'sign_in',
      clientId: answer.clientId,
    }),
  }));
}
