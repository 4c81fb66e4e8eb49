// Reading and changing what a user's profile holds, through the services: a change writes the
// values (users.profile), when each was given (profile_attribute_states, for reconfirming), and
// the `user.profile_updated` event and audit record, in one transaction. Values are checked
// against the profile schema in force; attributes it does not declare are never stored.
import type { Db } from '../db/index.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import { InvalidInputError, NotFoundError, type FieldProblem } from '../errors/index.ts';
import type { ProfileSchema } from './schema.ts';
import type { AttributeState } from './rules.ts';
import { checkValue, type ProfileValue } from './values.ts';

export interface ProfileFacts {
  profile: Record<string, unknown>;
  signIns: number;
  states: Map<string, AttributeState>;
}

/** What the rules read about a user; undefined when there is no such user. */
export async function readProfileFacts(db: Db, userId: string): Promise<ProfileFacts | undefined> {
  const [user, states] = await Promise.all([
    db('users').where('id', userId).first('profile', 'sign_in_count'),
    db('profile_attribute_states').where('user_id', userId).select('attribute', 'confirmed_at', 'skipped_until'),
  ]);
  if (!user) return undefined;
  return {
    profile: (user.profile ?? {}) as Record<string, unknown>,
    signIns: user.sign_in_count as number,
    states: new Map(states.map((row) => [row.attribute as string, { confirmedAt: row.confirmed_at, skippedUntil: row.skipped_until }])),
  };
}

/** Counts one more sign-in of the user (the min_sign_ins rules read it). */
export async function countSignIn(db: Db, userId: string): Promise<void> {
  await db('users').where('id', userId).increment('sign_in_count', 1);
}

/**
 * Checks values an operator or a service sets (JSON, keyed by attribute name; null removes): every
 * problem at once, as `profile.<name>`. An attribute the schema does not declare is refused here;
 * the hosted screens only ever read the attributes they asked for.
 */
export function checkProfilePatch(schema: ProfileSchema, patch: Record<string, unknown>): Record<string, ProfileValue | null> {
  const { values, problems } = profilePatchProblems(schema, patch);
  if (problems.length) throw new InvalidInputError('Invalid input', problems);
  return values;
}

/** The checked values of a patch and what is wrong with it, for a caller reporting other problems too. */
export function profilePatchProblems(
  schema: ProfileSchema,
  patch: Record<string, unknown>,
): { values: Record<string, ProfileValue | null>; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const checked: Record<string, ProfileValue | null> = {};
  for (const [name, raw] of Object.entries(patch)) {
    const attribute = schema.byName.get(name);
    if (!attribute) {
      problems.push({ path: `profile.${name}`, message: 'unknown field' });
      continue;
    }
    if (raw === null) {
      checked[name] = null;
      continue;
    }
    const result = checkValue(attribute, raw);
    if ('problem' in result) problems.push({ path: `profile.${name}`, message: result.problem });
    else checked[name] = 'value' in result ? result.value : null;
  }
  return { values: checked, problems };
}

/** Applies checked values to a profile: null removes, anything else replaces. */
export function mergeProfile(profile: Record<string, unknown>, values: Record<string, ProfileValue | null>): Record<string, unknown> {
  const merged = { ...profile };
  for (const [name, value] of Object.entries(values)) {
    if (value === null) delete merged[name];
    else merged[name] = value;
  }
  return merged;
}

/** Notes that these attributes were given (or confirmed as they are) now, in the caller's transaction. */
export async function markConfirmed(trx: Db, userId: string, attributes: string[]): Promise<void> {
  if (!attributes.length) return;
  await trx('profile_attribute_states')
    .insert(attributes.map((attribute) => ({ user_id: userId, attribute, confirmed_at: trx.fn.now(), skipped_until: null })))
    .onConflict(['user_id', 'attribute'])
    .merge(['confirmed_at', 'skipped_until']);
}

async function markSkipped(trx: Db, userId: string, skipped: { attribute: string; until: Date }[]): Promise<void> {
  if (!skipped.length) return;
  await trx('profile_attribute_states')
    .insert(skipped.map(({ attribute, until }) => ({ user_id: userId, attribute, skipped_until: until })))
    .onConflict(['user_id', 'attribute'])
    .merge(['skipped_until']);
}

export interface ProfileAnswers {
  /** Checked values to store (null removes). */
  values: Record<string, ProfileValue | null>;
  /** Attributes shown filled in and kept as they were: confirmed now. */
  confirmed: string[];
  /** Optional attributes put off, each until its cool-down ends. */
  skipped: { attribute: string; until: Date }[];
}

/** Stores what a user answered (the profile prompt, the account area); one event when anything changed. */
export async function answerProfile(ctx: ServiceContext, userId: string, answers: ProfileAnswers, clientId?: string): Promise<void> {
  await commitChange(ctx, async (trx) => {
    const user = await trx('users').where('id', userId).forUpdate().first('profile');
    if (!user) throw new NotFoundError(`No user ${userId}`);
    const changed = Object.keys(answers.values);
    if (changed.length) {
      const profile = mergeProfile(user.profile ?? {}, answers.values);
      await trx('users')
        .where('id', userId)
        .update({ profile: JSON.stringify(profile), updated_at: trx.fn.now() });
    }
    await markConfirmed(trx, userId, [...changed, ...answers.confirmed]);
    await markSkipped(trx, userId, answers.skipped);
    const record = {
      type: 'user.profile_updated' as const,
      subject: userId,
      userId,
      clientId: clientId ?? null,
      // Which attributes, never their values: events and audit records carry no personal data.
      data: { changed, confirmed: answers.confirmed, skipped: answers.skipped.map((s) => s.attribute) },
    };
    return { value: undefined, record: changed.length || answers.confirmed.length || answers.skipped.length ? record : null };
  });
}
