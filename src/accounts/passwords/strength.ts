// How easily a password is guessed, by zxcvbn-ts with its common and English dictionaries
// (passwords, words, names, Wikipedia, keyboard layouts) and the user's own details.
//
// The dictionaries are big, so they load on the first estimate, once (synchronously, so the
// policy can run inside a zod refinement). Measured on Node 24 (2-core machine): about 0.16 s, 27 MB
// more heap and 48 MB more resident memory; then about 12 ms for a four-word passphrase.
//
// zxcvbn-ts's defaults (256 characters examined, 100 l33t variants tried) cost up to 1.4 s of CPU
// for one long password of digits and symbols, which a sign-up form would let anyone send. With
// 128 characters and 10 variants the worst we measured is 90 ms, and common passwords score the
// same (p@ssw0rd1234, m0nk3yb4n4n4, Tr0ub4dor&3). A password longer than 128 characters is judged
// by its first 128, which only ever makes it look weaker than it is.
import { createRequire } from 'node:module';
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';

const EXAMINED_CHARACTERS = 128;
const L33T_VARIANTS = 10;

export interface StrengthEstimate {
  /** 0 (guessed at once) to 4 (very unlikely to be guessed). */
  score: 0 | 1 | 2 | 3 | 4;
  /** Why it is weak, as a sentence, when something stands out. */
  warning: string | null;
  /** What would make it stronger, as sentences. */
  suggestions: string[];
}

/** zxcvbn's warning for a password made of the user's own details, in our words. */
export const PERSONAL_DETAILS_WARNING = "Don't use your name or email address in your password.";

let estimator: ZxcvbnFactory | undefined;

function strengthEstimator(): ZxcvbnFactory {
  if (estimator) return estimator;
  const require = createRequire(import.meta.url);
  const core = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
  const common = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
  const en = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
  const translations = {
    ...en.translations,
    // zxcvbn's "There should not be any personal or page related data." says less.
    warnings: { ...en.translations.warnings, userInputs: PERSONAL_DETAILS_WARNING },
  };
  estimator = new core.ZxcvbnFactory({
    translations,
    graphs: common.adjacencyGraphs,
    dictionary: { ...common.dictionary, ...en.dictionary },
    maxLength: EXAMINED_CHARACTERS,
    l33tMaxSubstitutions: L33T_VARIANTS,
  });
  return estimator;
}

// zxcvbn matches each user input as one word: "alice.smith@example.com" alone would not catch
// "alicesmith2024", so the parts of each input count too.
function personalWords(userInputs: string[]): string[] {
  const words = new Set<string>();
  for (const input of userInputs) {
    const value = input.trim().toLowerCase();
    if (!value) continue;
    words.add(value);
    for (const part of value.split('@')) if (part) words.add(part);
    for (const part of value.split(/[^\p{L}\p{N}]+/u)) if (part.length >= 3) words.add(part);
  }
  return [...words];
}

/** How guessable `password` is for someone who knows `userInputs` (the user's email, name…). */
export function estimateStrength(password: string, userInputs: string[] = []): StrengthEstimate {
  const { score, feedback } = strengthEstimator().check(password, personalWords(userInputs));
  return { score, warning: feedback.warning, suggestions: feedback.suggestions };
}

/** Loads the dictionaries now instead of on the first estimate (a server may do it after it starts). */
export function loadStrengthEstimator(): void {
  strengthEstimator();
}
