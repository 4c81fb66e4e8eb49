// The federation paths providers are given, and where the browser goes on to from them. Every
// OpenID Connect / OAuth 2.0 connection has the same redirect URI (register exactly this with the
// provider); the state Gatehouse sends begins with a return key that says whose trip it was:
//   i.<interaction uid>   a sign-in   → /interaction/<uid>/upstream/callback
//   a                     the account area linking an identity → /account/security/identities/callback
// The browser is sent on under that path because only there does it carry the cookie of the
// sign-in or account session the trip belongs to.
export const FEDERATION_CALLBACK_PATH = '/federation/oidc/callback';
export const ACCOUNT_LINK_CALLBACK_PATH = '/account/security/identities/callback';

export const interactionReturnKey = (uid: string) => `i.${uid}`;
export const ACCOUNT_RETURN_KEY = 'a';

const INTERACTION_STATE = /^i\.([\w-]{10,64})\.[\w-]{20,100}$/;
const ACCOUNT_STATE = /^a\.[\w-]{20,100}$/;

/** The interaction a state (or SAML RelayState) of a sign-in belongs to. */
export const interactionOfState = (state: string): string | undefined => INTERACTION_STATE.exec(state)?.[1];

/** Where a callback with this state goes on to (with its query), or undefined for a state Gatehouse never sent. */
export function returnPathOf(state: string): string | undefined {
  const uid = INTERACTION_STATE.exec(state)?.[1];
  if (uid) return `/interaction/${uid}/upstream/callback`;
  if (ACCOUNT_STATE.test(state)) return ACCOUNT_LINK_CALLBACK_PATH;
  return undefined;
}
