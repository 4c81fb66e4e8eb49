// What a new password must be, checked in this order, the first failure being the reason given:
//
//   present          "Enter a password"
//   long enough      PASSWORD_MIN_LENGTH characters (Unicode code points), 12 by default
//   not too long     1024 characters: long passphrases are welcome (the $gh1$ hash reads all of
//                    a password), a megabyte of text is not
//   not breached     not on the list of passwords exposed in data breaches (breachedPasswords.ts)
//   not personal     not containing the user's email (its part before @) or name, whole
//   hard to guess    zxcvbn score 3 or more, counting the user's email and name (strength.ts)
//
// No rules about character classes: they make passwords harder to remember, not to guess
// (NIST SP 800-63B).
import { z } from 'zod';
import { InvalidInputError } from '../../errors/index.ts';
import { isBreachedPassword } from './breachedPasswords.ts';
import { estimateStrength, loadStrengthEstimator, PERSONAL_DETAILS_WARNING } from './strength.ts';

export const PASSWORD_MAX_LENGTH = 1024;
// zxcvbn's 3: "safely unguessable: moderate protection from offline slow-hash scenario".
const LEAST_SCORE = 3;

export interface PasswordPolicyOptions {
  /** config.passwordMinLength. */
  minLength: number;
  /** What the user's password must not be made of: their email, name and the like. */
  userInputs?: string[];
}

export type PasswordVerdict = { ok: true } | { ok: false; reason: string };

function characterCount(text: string): number {
  let count = 0;
  for (const _character of text) count++;
  return count;
}

const squash = (text: string) => text.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
// Shorter details are left to zxcvbn, which weighs them as words: "anna" inside "Joanna…" is chance.
const SHORTEST_DETAIL = 4;

// zxcvbn weighs the user's details as cheap words, yet rates any password of three or more parts
// at 3 or more: "alicesmith2024" would pass for Alice Smith, and an attacker who knows whose
// account it is tries exactly that first. Spacing, punctuation and letter case do not hide them.
function containsPersonalDetails(password: string, userInputs: string[]): boolean {
  const squashed = squash(password);
  const details = userInputs.flatMap((input) => [input, input.split('@')[0]]).map(squash);
  return details.some((detail) => detail.length >= SHORTEST_DETAIL && squashed.includes(detail));
}

/** Whether `password` may be set as a new password, and if not, why, in words for its owner. */
export function checkPasswordPolicy(password: string, { minLength, userInputs = [] }: PasswordPolicyOptions): PasswordVerdict {
  if (password === '') return { ok: false, reason: 'Enter a password' };
  // A code point is at most two UTF-16 units, so past this length it is too long without counting.
  const length = password.length > 2 * PASSWORD_MAX_LENGTH ? Number.POSITIVE_INFINITY : characterCount(password);
  if (length < minLength) return { ok: false, reason: `Use at least ${minLength} characters` };
  if (length > PASSWORD_MAX_LENGTH) return { ok: false, reason: `Use at most ${PASSWORD_MAX_LENGTH} characters` };
  if (isBreachedPassword(password)) {
    return { ok: false, reason: 'This password is in a list of passwords exposed in data breaches. Choose another.' };
  }
  if (containsPersonalDetails(password, userInputs)) return { ok: false, reason: PERSONAL_DETAILS_WARNING };
  const { score, warning, suggestions } = estimateStrength(password, userInputs);
  if (score < LEAST_SCORE) {
    const why = warning ?? 'This password is too easy to guess.';
    return { ok: false, reason: suggestions[0] ? `${why} ${suggestions[0]}` : why };
  }
  return { ok: true };
}

/** Throws the InvalidInputError a service throws for bad input, naming `field`, when the policy refuses `password`. */
export function assertPasswordPolicy(password: string, options: PasswordPolicyOptions, field = 'password'): void {
  const verdict = checkPasswordPolicy(password, options);
  if (!verdict.ok) throw new InvalidInputError('Invalid input', [{ path: field, message: verdict.reason }]);
}

/**
 * A password field that must pass the policy, for a zod object parsed with parseInput: a refusal
 * becomes a field problem on the field's own path. Inputs that are not a string fail as zod says.
 */
export function passwordPolicySchema(options: PasswordPolicyOptions) {
  return z.string().superRefine((password, ctx) => {
    const verdict = checkPasswordPolicy(password, options);
    if (!verdict.ok) ctx.addIssue({ code: 'custom', message: verdict.reason });
  });
}

/** Loads the breached list and the dictionaries now instead of on the first check. */
export function loadPasswordPolicy(): void {
  isBreachedPassword('');
  loadStrengthEstimator();
}
