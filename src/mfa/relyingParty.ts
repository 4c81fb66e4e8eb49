// The WebAuthn relying party Gatehouse is to passkeys: the RP ID (the domain a passkey is bound
// to, for ever: changing it orphans every passkey), the name authenticators show, and the origins
// whose pages may run a ceremony. Derived from configuration; config.ts runs the checks below at
// start, so a setting no browser would accept stops the process instead of failing every
// passkey ceremony later.
import type { Config } from '../config.ts';

export interface RelyingParty {
  /** The RP ID: a domain, the issuer's host unless WEBAUTHN_RP_ID names a parent of it. */
  id: string;
  /** What the authenticator shows beside the account. */
  name: string;
  /** Where a ceremony may run: the issuer's origin first, then WEBAUTHN_ORIGINS. */
  origins: string[];
}

export const DEFAULT_RP_NAME = 'Gatehouse';

export function relyingParty(config: Pick<Config, 'issuer' | 'webauthnRpId' | 'webauthnRpName' | 'webauthnOrigins'>): RelyingParty {
  const issuer = new URL(config.issuer);
  return {
    id: config.webauthnRpId ?? issuer.hostname,
    name: config.webauthnRpName,
    origins: [...new Set([issuer.origin, ...config.webauthnOrigins])],
  };
}

// ---- Checks of the settings, for config.ts ----

// Browsers treat http://localhost (and its subdomains) as a secure context; nothing else on http.
const isLocalhost = (host: string) => host === 'localhost' || host.endsWith('.localhost');

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DOMAIN = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);

/** The origin an entry of WEBAUTHN_ORIGINS names, or why it is not one. */
export function readOrigin(entry: string): { origin: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return { problem: `WEBAUTHN_ORIGINS entry "${entry}" is not an origin such as https://app.example.com` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { problem: `WEBAUTHN_ORIGINS entry "${entry}" is not an origin such as https://app.example.com` };
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password)
    return {
      problem: `WEBAUTHN_ORIGINS entry "${entry}" must be an origin only (scheme, host and port), without a path, query or fragment`,
    };
  if (url.protocol === 'http:' && !isLocalhost(url.hostname))
    return { problem: `WEBAUTHN_ORIGINS entry "${entry}" must use https (http is allowed only for localhost)` };
  return { origin: url.origin };
}

/** Why a WEBAUTHN_RP_ID cannot be an RP ID at all, whatever the other settings. */
export function rpIdProblem(rpId: string): string | undefined {
  if (!DOMAIN.test(rpId)) return 'WEBAUTHN_RP_ID must be a domain name such as example.com (lower case, no scheme, port or path)';
  if (/^[\d.]+$/.test(rpId)) return 'WEBAUTHN_RP_ID must be a domain name, not an IP address';
  // The full rule is "not a public suffix" (co.uk too); without the public suffix list, a single
  // label is what we can refuse, and a browser refuses the rest on the first ceremony.
  if (!rpId.includes('.') && rpId !== 'localhost')
    return 'WEBAUTHN_RP_ID must be a registrable domain such as example.com, not a top-level domain';
  return undefined;
}

/** A passkey bound to `rpId` may be used on `host` only when host is rpId or below it. */
export const isWithinRpId = (host: string, rpId: string) => host === rpId || host.endsWith(`.${rpId}`);

/**
 * Why the RP ID does not cover the issuer and every extra origin: a browser would refuse the
 * ceremony on a page outside it. `rpId` undefined means the issuer's host.
 */
export function rpScopeProblems(issuer: string, rpId: string | undefined, origins: string[]): { path: string; message: string }[] {
  // An RP ID that is no domain at all has been reported as such; its scope would only repeat it.
  if (rpId && rpIdProblem(rpId)) return [];
  const issuerHost = new URL(issuer).hostname;
  const problems: { path: string; message: string }[] = [];
  if (rpId && !isWithinRpId(issuerHost, rpId))
    problems.push({
      path: 'WEBAUTHN_RP_ID',
      message: `WEBAUTHN_RP_ID ${rpId} must be ISSUER's host (${issuerHost}) or a parent domain of it`,
    });
  const scope = rpId ?? issuerHost;
  for (const origin of origins) {
    const host = new URL(origin).hostname;
    if (isWithinRpId(host, scope)) continue;
    problems.push({
      path: 'WEBAUTHN_ORIGINS',
      message: rpId
        ? `WEBAUTHN_ORIGINS entry "${origin}" is outside WEBAUTHN_RP_ID ${rpId}: its host must be ${rpId} or a subdomain of it`
        : `WEBAUTHN_ORIGINS entry "${origin}" is outside the passkey RP ID ${scope} (ISSUER's host): set WEBAUTHN_RP_ID to a domain both are under`,
    });
  }
  return problems;
}
