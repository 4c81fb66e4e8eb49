// Passwords: how they are hashed and verified (hash.ts: the $gh1$ format and legacy bcrypt), and
// what a new one must be (policy.ts: length, the breached list, estimated strength).
export { decoyCompare, hashPassword, importedPasswordHashSchema, isImportableHash, needsRehash, verifyPasswordHash } from './hash.ts';
export {
  assertPasswordPolicy,
  checkPasswordPolicy,
  loadPasswordPolicy,
  PASSWORD_MAX_LENGTH,
  passwordPolicySchema,
  type PasswordPolicyOptions,
  type PasswordVerdict,
} from './policy.ts';
export { breachedPasswordCount, isBreachedPassword } from './breachedPasswords.ts';
export { estimateStrength, type StrengthEstimate } from './strength.ts';
