// Where the account area's pages are. Its sign-in plumbing (callback, sign-out) is never a place
// to come back to after signing in.
import { ACCOUNT_CLIENT } from '../oidc/builtInClients.ts';

export const ACCOUNT_HOME = '/account';
/** The built-in client's redirect URI and post-logout redirect URI, under the issuer. */
export const CALLBACK_PATH = ACCOUNT_CLIENT.redirectPath;
export const SIGNED_OUT_PATH = ACCOUNT_CLIENT.postLogoutRedirectPath;
export const SIGN_OUT_PATH = '/account/sign-out';

const NOT_A_DESTINATION = new Set([CALLBACK_PATH, SIGN_OUT_PATH, SIGNED_OUT_PATH]);

/** A page of the account area one may be sent back to. */
export function isAccountPath(pathname: string): boolean {
  return (pathname === ACCOUNT_HOME || pathname.startsWith(`${ACCOUNT_HOME}/`)) && !NOT_A_DESTINATION.has(pathname);
}
