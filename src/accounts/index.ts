// Accounts: the people who sign in. users.ts holds what is stored and how it is read;
// service.ts the changes operators make; the self-service changes (sign-up, verification,
// password reset, invitations, email change, sign-in locks) have a file each, over one-time
// tokens (oneTimeTokens.ts) and the password rules (passwords/).
export * from './users.ts';
export * from './service.ts';
export * from './selfServiceDeps.ts';
export * from './registration.ts';
export * from './emailVerification.ts';
export * from './passwordReset.ts';
export * from './invitations.ts';
export * from './emailChange.ts';
export * from './oneTimeTokens.ts';
