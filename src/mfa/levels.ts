// Authentication levels: the `acr` values Gatehouse issues and accepts, and how the methods of a
// sign-in (its `amr`, RFC 8176) map onto them. Relying parties ask for a level with
// `acr_values` (or an essential `acr` claim); the ID token's `acr` says which level this sign-in
// reached, truthfully, from the methods that were actually used.
//
//   level                         acr value                 reached by
//   1 single factor               urn:gatehouse:acr:sfa     a password, or an emailed code
//   2 multi-factor                urn:gatehouse:acr:mfa     two factors of different kinds
//                                                           (password + authenticator code,
//                                                           password + passkey, …)
//   3 phishing-resistant MFA      urn:gatehouse:acr:phr     a passkey with user verification
//                                                           (the authenticator checked a PIN or
//                                                           biometric: possession + one more)
//
// A higher level satisfies a request for a lower one. The PAPE multi-factor policy URI that
// Auth0 and others use is understood as a request for level 2.

export const ACR = {
  singleFactor: 'urn:gatehouse:acr:sfa',
  multiFactor: 'urn:gatehouse:acr:mfa',
  phishingResistant: 'urn:gatehouse:acr:phr',
} as const;

const PAPE_MULTI_FACTOR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor';

/** What discovery advertises in acr_values_supported, lowest level first. */
export const ACR_VALUES: readonly string[] = [ACR.singleFactor, ACR.multiFactor, ACR.phishingResistant, PAPE_MULTI_FACTOR];

const LEVELS: Record<string, number> = {
  [ACR.singleFactor]: 1,
  [ACR.multiFactor]: 2,
  [PAPE_MULTI_FACTOR]: 2,
  [ACR.phishingResistant]: 3,
};

/** The level of an acr value; 0 for none or one we do not issue. */
export const levelOf = (acr: string | undefined): number => (acr ? (LEVELS[acr] ?? 0) : 0);

// The kinds of factor behind each amr value: two different kinds make a multi-factor sign-in.
const KNOWLEDGE = new Set(['pwd', 'pin', 'kba']);
const POSSESSION = new Set(['otp', 'hwk', 'swk', 'sms', 'tel', 'email']);
const PASSKEY = new Set(['hwk', 'swk']);

/** The level the methods of a sign-in reached. */
export function levelOfAmr(amr: readonly string[]): number {
  const has = (kind: Set<string>) => amr.some((value) => kind.has(value));
  // "user" is what a passkey reports when the authenticator verified the person itself.
  if (has(PASSKEY) && amr.includes('user')) return 3;
  if (has(KNOWLEDGE) && has(POSSESSION)) return 2;
  return amr.length ? 1 : 0;
}

export function acrOfLevel(level: number): string {
  if (level >= 3) return ACR.phishingResistant;
  if (level === 2) return ACR.multiFactor;
  return ACR.singleFactor;
}

/** The amr of a sign-in made of these methods' amr, with "mfa" when it took more than one factor. */
export function combinedAmr(parts: readonly (readonly string[])[]): string[] {
  const amr = [...new Set(parts.flat().filter((value) => value !== 'mfa'))];
  return levelOfAmr(amr) >= 2 ? [...amr, 'mfa'] : amr;
}

export const acrOfAmr = (amr: readonly string[]) => acrOfLevel(levelOfAmr(amr));

/**
 * The lowest level the request asks for (any requested value it names satisfies it), from
 * `acr_values` and an `acr` claim request; 0 when it names none we know (voluntary values we do
 * not issue are ignored). `essential` when the claim request marks it so.
 */
export function requestedLevel(acrValues: unknown, acrClaim: unknown): { level: number; essential: boolean } {
  const fromClaim = claimRequest(acrClaim);
  const values = fromClaim.values.length ? fromClaim.values : typeof acrValues === 'string' ? acrValues.split(' ') : [];
  const known = values.map(levelOf).filter((level) => level > 0);
  return { level: known.length ? Math.min(...known) : 0, essential: fromClaim.essential && known.length > 0 };
}

function claimRequest(claim: unknown): { values: string[]; essential: boolean } {
  if (!claim || typeof claim !== 'object') return { values: [], essential: false };
  const { value, values, essential } = claim as { value?: unknown; values?: unknown; essential?: unknown };
  const list = typeof value === 'string' ? [value] : Array.isArray(values) ? values.filter((v) => typeof v === 'string') : [];
  return { values: list, essential: essential === true };
}
