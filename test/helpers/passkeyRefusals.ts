// What src/mfa/passkeys.ts says when it refuses a passkey, word for word: the tests assert the
// exact messages people see (the sign-in screen adds what to do next).
export const PASSKEY_REFUSALS = {
  challenge: 'This passkey request has expired or was already used',
  origin: 'This passkey was used on a page that may not sign in here',
  rpId: 'This passkey is for another website',
  userVerification: 'Your authenticator did not verify that it is you (with a PIN, fingerprint or face), which is required here',
  signature: "This passkey's signature is not valid",
  unknown: 'This passkey is not registered here',
  otherUser: 'This passkey belongs to another account',
  userHandle: 'This passkey does not belong to the account it names',
  duplicate: 'This passkey is already registered',
  replayed: 'This passkey response was already used',
  counter: "This passkey's use counter went backwards, a sign that it may have been copied, so it was refused",
  notJson: 'This passkey response is not valid JSON',
  invalid: 'This passkey response is not valid',
  tooLarge: 'This passkey response is too large',
  name: 'A passkey name must be 1 to 64 characters',
};
