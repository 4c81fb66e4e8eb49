// Passwords: the $gh1$ hash reads every character of a long password, legacy and imported bcrypt
// hashes keep verifying and ask to be renewed, imports are refused unless they are real bcrypt
// hashes, and the policy gives the exact reason for each refusal.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import { z } from 'zod';
import {
  assertPasswordPolicy,
  breachedPasswordCount,
  checkPasswordPolicy,
  decoyCompare,
  estimateStrength,
  hashPassword,
  importedPasswordHashSchema,
  isImportableHash,
  needsRehash,
  passwordPolicySchema,
  verifyPasswordHash,
} from '../../src/accounts/passwords/index.ts';
import { loadConfig, ConfigError } from '../../src/config.ts';
import { InvalidInputError, parseInput } from '../../src/errors/index.ts';

const COST = 4;
const SECRET = 's'.repeat(40);

/** `length` characters of base64: strong, and on no list. */
function randomPassword(length: number): string {
  return randomBytes(length).toString('base64').slice(0, length);
}

/** The field problems of the InvalidInputError that `action` throws. */
function fieldProblemsOf(action: () => unknown) {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    return error.fields;
  }
  assert.fail('expected an InvalidInputError');
}

/** The same password with its last character changed. */
function lastCharacterChanged(password: string): string {
  return password.slice(0, -1) + (password.endsWith('x') ? 'y' : 'x');
}

describe('password hashes', () => {
  it('makes $gh1$ hashes around bcrypt at the given cost', async () => {
    const hash = await hashPassword('violet tractor minnow jazz', COST);
    assert.match(hash, /^\$gh1\$\$2b\$04\$[./A-Za-z0-9]{53}$/);
    assert.equal(await verifyPasswordHash('violet tractor minnow jazz', hash), true);
    assert.equal(await verifyPasswordHash('violet tractor minnow jaz', hash), false);
    assert.equal(needsRehash(hash, COST), false);
  });

  for (const length of [128, 1000]) {
    it(`reads all of a ${length}-character password`, async () => {
      const password = randomPassword(length);
      const hash = await hashPassword(password, COST);
      assert.equal(await verifyPasswordHash(password, hash), true);
      assert.equal(await verifyPasswordHash(lastCharacterChanged(password), hash), false);
    });
  }

  it('tells a password of more than 72 bytes from its first 72 bytes', async () => {
    const prefix = 'a'.repeat(72);
    const hash = await hashPassword(`${prefix}b`, COST);
    assert.equal(await verifyPasswordHash(`${prefix}b`, hash), true);
    assert.equal(await verifyPasswordHash(prefix, hash), false);
    assert.equal(await verifyPasswordHash(`${prefix}c`, hash), false);
    // Multi-byte characters count by their bytes: 24 of these are 72 bytes.
    const euros = '€'.repeat(24);
    const euroHash = await hashPassword(`${euros}€`, COST);
    assert.equal(await verifyPasswordHash(euros, euroHash), false);
    assert.equal(await verifyPasswordHash(`${euros}€`, euroHash), true);
  });

  it('verifies legacy bcrypt hashes and asks for them to be renewed', async () => {
    const legacy = await bcrypt.hash('hunter2 is my password', COST);
    assert.match(legacy, /^\$2b\$04\$/);
    assert.equal(await verifyPasswordHash('hunter2 is my password', legacy), true);
    assert.equal(await verifyPasswordHash('hunter2 is my passwore', legacy), false);
    assert.equal(needsRehash(legacy, COST), true, 'an older format is renewed even at the current cost');
    assert.equal(await verifyPasswordHash('hunter2 is my password', legacy.replace(/^\$2b\$/, '$2a$')), true, '$2a$ too');
  });

  it("verifies PHP's $2y$ hashes (the example of PHP's password_hash manual)", async () => {
    const php = '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a';
    assert.equal(await verifyPasswordHash('rasmuslerdorf', php), true);
    assert.equal(await verifyPasswordHash('rasmuslerdorg', php), false);
    assert.equal(needsRehash(php, 10), true);
  });

  it('refuses a legacy hash a password longer than 72 bytes or holding a NUL, which it could only partly match', async () => {
    const prefix = 'b'.repeat(72);
    const legacy = await bcrypt.hash(prefix, COST);
    assert.equal(await verifyPasswordHash(prefix, legacy), true);
    assert.equal(await verifyPasswordHash(`${prefix}anything`, legacy), false, 'plain bcrypt would say yes');
    const short = await bcrypt.hash('short one', COST);
    assert.equal(await verifyPasswordHash('short one\0tail', short), false);
  });

  it('asks for a hash to be renewed when the cost changed', async () => {
    const hash = await hashPassword('violet tractor minnow jazz', COST);
    assert.equal(needsRehash(hash, COST), false);
    assert.equal(needsRehash(hash, COST + 1), true);
    assert.equal(needsRehash(hash, 12), true);
  });

  it('matches nothing with a hash it does not know', async () => {
    for (const stored of ['', 'nonsense', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', '$gh1$', '$gh2$$2b$04$' + 'a'.repeat(53)]) {
      assert.equal(await verifyPasswordHash('password', stored), false, stored);
      assert.equal(needsRehash(stored, COST), true, stored);
    }
  });

  it('compares with a decoy for an unknown email, at any cost', async () => {
    assert.equal(await decoyCompare('whatever', COST), undefined);
    assert.equal(await decoyCompare('whatever', COST + 1), undefined);
    assert.equal(await decoyCompare('whatever', COST), undefined);
  });
});

describe('imported password hashes', () => {
  const problem = (hash: unknown) => {
    const result = importedPasswordHashSchema.safeParse(hash);
    return result.success ? undefined : result.error.issues.map((i) => i.message);
  };

  it('accepts real bcrypt hashes as they are', async () => {
    const real = await bcrypt.hash('imported password', COST);
    for (const hash of [real, real.replace(/^\$2b\$/, '$2a$'), '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a']) {
      assert.equal(problem(hash), undefined, hash);
      assert.equal(isImportableHash(hash), true, hash);
      assert.equal(importedPasswordHashSchema.parse(hash), hash);
    }
    assert.equal(await verifyPasswordHash('imported password', real), true);
    assert.equal(isImportableHash(`$2b$31$${'a'.repeat(53)}`), true, 'the highest cost bcrypt has');
  });

  it('refuses anything else, saying why', () => {
    const body = 'a'.repeat(53);
    const NOT_BCRYPT = 'Password hash must be a bcrypt hash starting with $2a$, $2b$ or $2y$';
    const BAD_SHAPE = 'Password hash must be $2a$, $2b$ or $2y$, a two-digit cost, $, then 53 characters of ./A-Za-z0-9';
    const BAD_COST = 'Password hash cost must be between 4 and 31';
    const cases: [string, string][] = [
      ['', NOT_BCRYPT],
      ['hunter2', NOT_BCRYPT],
      ['$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', NOT_BCRYPT],
      [`$2x$10$${body}`, NOT_BCRYPT],
      [`$gh1$$2b$10$${body}`, NOT_BCRYPT],
      [`$2b$10$${body.slice(1)}`, BAD_SHAPE],
      [`$2b$10$${body}a`, BAD_SHAPE],
      [`$2b$10$${body.slice(1)}!`, BAD_SHAPE],
      [`$2b$1$${body}`, BAD_SHAPE],
      [`$2b$10$${body}\n`, BAD_SHAPE],
      [`$2b$03$${body}`, BAD_COST],
      [`$2b$32$${body}`, BAD_COST],
      [`$2b$99$${body}`, BAD_COST],
    ];
    for (const [hash, message] of cases) {
      assert.deepEqual(problem(hash), [message], hash);
      assert.equal(isImportableHash(hash), false, hash);
    }
  });

  it('becomes a field problem of an input', () => {
    const schema = z.object({ password_hash: importedPasswordHashSchema });
    assert.deepEqual(
      fieldProblemsOf(() => parseInput(schema, { password_hash: `$2b$03$${'a'.repeat(53)}` })),
      [{ path: 'password_hash', message: 'Password hash cost must be between 4 and 31' }],
    );
  });
});

describe('password policy', () => {
  const options = { minLength: 12, userInputs: ['alice.smith@example.com', 'Alice Smith'] };
  const refusal = (password: string, opts = options) => {
    const verdict = checkPasswordPolicy(password, opts);
    return verdict.ok ? 'accepted' : verdict.reason;
  };
  const BREACHED = 'This password is in a list of passwords exposed in data breaches. Choose another.';
  const PERSONAL = "Don't use your name or email address in your password.";
  const REPEATED = 'Repeated character patterns like "abcabcabc" are easy to guess. Add more words that are less common.';

  it('asks for a password when there is none', () => {
    assert.equal(refusal(''), 'Enter a password');
  });

  it('refuses a password shorter than the minimum, counting characters, not bytes or UTF-16 units', () => {
    assert.equal(refusal('Xk9#mQ2$vL7'), 'Use at least 12 characters');
    assert.equal(refusal('Xk9#mQ2$vL7z'.slice(0, 11), { minLength: 8, userInputs: [] }), 'accepted');
    assert.equal(refusal('violet tractor', { minLength: 16, userInputs: [] }), 'Use at least 16 characters');
    // Eleven characters of two UTF-16 units each.
    assert.equal(refusal('🦊🐙🦉🐢🦋🐝🦀🐬🦔🐌🦜'), 'Use at least 12 characters');
  });

  it('refuses a password longer than 1024 characters, and accepts one of 1024 in full', () => {
    assert.equal(refusal(randomPassword(1025)), 'Use at most 1024 characters');
    assert.equal(refusal('x'.repeat(1_000_000)), 'Use at most 1024 characters');
    assert.equal(refusal(randomPassword(1024)), 'accepted');
    assert.equal(refusal(randomPassword(128)), 'accepted');
  });

  it('refuses common passwords in any letter case', () => {
    assert.equal(refusal('password1234'), BREACHED);
    assert.equal(refusal('PASSWORD1234'), BREACHED);
    assert.equal(refusal('Password1234'), BREACHED);
  });

  it('refuses a breached password that looks strong to the estimate', () => {
    assert.ok(estimateStrength('perasperaadastra').score >= 3, 'zxcvbn alone would accept it');
    assert.equal(refusal('perasperaadastra'), BREACHED);
  });

  it('refuses a password that is easy to guess, saying why and what would help', () => {
    assert.equal(refusal('xyzxyzxyzxyzxyz'), REPEATED);
    assert.equal(refusal('iloveyou12345'), 'This is similar to a commonly used password. Add more words that are less common.');
  });

  it("refuses a password made of the user's email or name", () => {
    assert.equal(refusal('alice.smith@example.com'), PERSONAL);
    assert.equal(refusal('AliceSmith2024!'), PERSONAL);
    assert.equal(refusal('Alice Smith 1999!'), PERSONAL);
    assert.equal(
      refusal('alice.smith@example.com', { minLength: 12, userInputs: [] }),
      'accepted',
      'for someone else it is no personal detail',
    );
    // The estimate weighs them too, in the same words.
    assert.equal(estimateStrength('alice.smith@example.com', options.userInputs).warning, PERSONAL);
  });

  it('accepts a strong password', () => {
    assert.equal(refusal('violet tractor minnow jazz'), 'accepted');
    assert.equal(refusal('violet tractor minnow jazz', { minLength: 8, userInputs: [] }), 'accepted');
  });

  it('becomes a field problem on the password', () => {
    assert.deepEqual(
      fieldProblemsOf(() => assertPasswordPolicy('password1234', options)),
      [{ path: 'password', message: BREACHED }],
    );
    assert.deepEqual(
      fieldProblemsOf(() => assertPasswordPolicy('short', options, 'new_password')),
      [{ path: 'new_password', message: 'Use at least 12 characters' }],
    );
    const schema = z.object({ password: passwordPolicySchema(options) }).strict();
    assert.deepEqual(parseInput(schema, { password: 'violet tractor minnow jazz' }), { password: 'violet tractor minnow jazz' });
    assert.deepEqual(
      fieldProblemsOf(() => parseInput(schema, { password: 'xyzxyzxyzxyzxyz' })),
      [{ path: 'password', message: REPEATED }],
    );
  });

  it('checks against at least 100,000 breached passwords', () => {
    assert.ok(breachedPasswordCount() >= 100_000, `${breachedPasswordCount()} entries`);
  });
});

describe('PASSWORD_MIN_LENGTH', () => {
  const problems = (value: string) => {
    try {
      loadConfig({ SECRET_KEY: SECRET, PASSWORD_MIN_LENGTH: value });
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
    assert.fail('expected a ConfigError');
  };

  it('is 12 unless set, and 8 to 128', () => {
    assert.equal(loadConfig({ SECRET_KEY: SECRET }).passwordMinLength, 12);
    assert.equal(loadConfig({ SECRET_KEY: SECRET, PASSWORD_MIN_LENGTH: '16' }).passwordMinLength, 16);
    assert.deepEqual(problems('7'), ['PASSWORD_MIN_LENGTH: PASSWORD_MIN_LENGTH must be at least 8']);
    assert.deepEqual(problems('129'), ['PASSWORD_MIN_LENGTH: PASSWORD_MIN_LENGTH must be at most 128']);
    assert.deepEqual(problems('twelve'), ['PASSWORD_MIN_LENGTH: PASSWORD_MIN_LENGTH must be a whole number']);
  });
});
