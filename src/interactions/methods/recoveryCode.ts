// One of the user's recovery codes (src/mfa/recoveryCodes.ts), as a second factor when the
// authenticator is out of reach. Each works once; the owner is emailed when one is used. Its amr
// is "otp": RFC 8176 has no value of its own for a printed one-time code.
import { secondFactorCode } from './secondFactorCode.ts';
import { useRecoveryCode } from '../../mfa/recoveryCodes.ts';

export const recoveryCodeMethod = secondFactorCode({
  id: 'recovery_code',
  amr: ['otp'],
  holds: (factors) => factors.recoveryCodes > 0,
  screen: {
    heading: 'Recovery code',
    label: 'One of your recovery codes',
    hint: 'Use a recovery code if you cannot reach your authenticator. Each code works once.',
    inputmode: 'text',
    maxlength: 20,
  },
  wrongCode: 'That recovery code is not right, or was already used.',
  verify: (ctx, deps, userId, code) => useRecoveryCode(ctx, deps.accounts, userId, code),
});
