// A code from the user's authenticator app (src/mfa/totp.ts), as a second factor.
import { secondFactorCode } from './secondFactorCode.ts';
import { verifyTotp } from '../../mfa/totp.ts';

export const totpMethod = secondFactorCode({
  id: 'totp',
  amr: ['otp'],
  holds: (factors) => factors.totp,
  screen: {
    heading: 'Authenticator app',
    label: 'Code from your authenticator app',
    hint: 'Open the app and enter the 6-digit code it shows for this account.',
    inputmode: 'numeric',
    maxlength: 10,
  },
  wrongCode: 'That code is not right, or was already used. Enter the code your app shows now.',
  verify: (ctx, deps, userId, code) => verifyTotp(ctx, deps.accounts, userId, code),
});
