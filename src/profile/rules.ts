// When to ask for what: the schema's `ask` rules read against one sign-in (which client, which
// claims it asks for, how many times the user has signed in, today) and the user's profile and
// attribute states. Pure, so the rules are tested without a server.
import type { AskRule, Attribute, ProfileSchema } from './schema.ts';
import { isEmpty } from './values.ts';

export interface AttributeState {
  /** When the value was last given or confirmed. */
  confirmedAt?: Date | null;
  /** "Skip for now" holds until then. */
  skippedUntil?: Date | null;
}

export interface SignInFacts {
  clientId: string;
  /** The claims this sign-in asks for (by scope or with the claims parameter). */
  requestedClaims: ReadonlySet<string>;
  /** Sign-ins so far, this one included. */
  signIns: number;
  now: Date;
  profile: Record<string, unknown>;
  states: ReadonlyMap<string, AttributeState>;
}

export interface DueAttribute {
  attribute: Attribute;
  /** Cannot be skipped in this sign-in. */
  required: boolean;
  /** Has a value that is older than its reconfirm_after_days: shown filled in, to confirm or correct. */
  reconfirm: boolean;
}

const DAY = 24 * 3600 * 1000;

const today = (now: Date) => now.toISOString().slice(0, 10);

/** What a rule's conditions read; a sign-up knows only the client and the day. */
type RuleFacts = Pick<SignInFacts, 'clientId' | 'now'> & Partial<Pick<SignInFacts, 'requestedClaims' | 'signIns'>>;

function ruleHolds(rule: AskRule, attribute: Attribute, facts: RuleFacts) {
  if (rule.clients && !rule.clients.includes(facts.clientId)) return false;
  if (rule.from && today(facts.now) < rule.from) return false;
  if (rule.when_claim_requested && !facts.requestedClaims?.has(attribute.claim)) return false;
  if (rule.min_sign_ins && (facts.signIns ?? 0) < rule.min_sign_ins) return false;
  return true;
}

/** The rules of `at` that hold here, or none. */
function holdingRules(attribute: Attribute, at: AskRule['at'], facts: RuleFacts): AskRule[] {
  return attribute.ask.filter((rule) => rule.at === at && ruleHolds(rule, attribute, facts));
}

function needsReconfirming(attribute: Attribute, state: AttributeState | undefined, now: Date): boolean {
  if (!attribute.reconfirmAfterDays) return false;
  // A value with no record of when it was given (set before the rule existed) is confirmed once.
  const confirmedAt = state?.confirmedAt;
  return !confirmedAt || now.getTime() - new Date(confirmedAt).getTime() >= attribute.reconfirmAfterDays * DAY;
}

/** The attributes to ask for after this sign-in, required ones first, at most one screen's worth. */
export function dueAttributes(schema: ProfileSchema, facts: SignInFacts): DueAttribute[] {
  const due: DueAttribute[] = [];
  for (const attribute of schema.attributes) {
    const rules = holdingRules(attribute, 'sign_in', facts);
    if (!rules.length) continue;
    const state = facts.states.get(attribute.name);
    const missing = isEmpty(facts.profile[attribute.name]);
    const reconfirm = !missing && needsReconfirming(attribute, state, facts.now);
    if (!missing && !reconfirm) continue;
    const required = attribute.required || rules.some((rule) => rule.required === true);
    if (!required && state?.skippedUntil && new Date(state.skippedUntil).getTime() > facts.now.getTime()) continue;
    due.push({ attribute, required, reconfirm });
  }
  return due.sort((a, b) => Number(b.required) - Number(a.required)).slice(0, schema.maxPerScreen);
}

/** The attributes the sign-up form asks for, for this client, and whether each is required there. */
export function signupAttributes(schema: ProfileSchema, clientId: string, now = new Date()): DueAttribute[] {
  return schema.attributes.flatMap((attribute) => {
    const rules = holdingRules(attribute, 'signup', { clientId, now });
    if (!rules.length) return [];
    return [{ attribute, required: attribute.required || rules.some((rule) => rule.required === true), reconfirm: false }];
  });
}

/** Whether any rule could ask for something after a sign-in (if not, nothing need be read). */
export const asksAfterSignIn = (schema: ProfileSchema): boolean => schema.attributes.some((a) => a.ask.some((r) => r.at === 'sign_in'));
