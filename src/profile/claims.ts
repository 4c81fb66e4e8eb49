// A profile as OpenID Connect claims: each attribute of the schema under its claim name, in the
// claim's standard form (an address becomes the address object of OIDC Core §5.1.1, a phone
// number comes with phone_number_verified). What the schema no longer declares is not released.
// oidc-provider then keeps only the claims the granted scopes (or the claims parameter) allow.
import type { ProfileSchema } from './schema.ts';
import { isEmpty, type AddressValue } from './values.ts';

function addressClaim(address: AddressValue): Record<string, string> {
  const formatted = [
    address.street_address,
    [address.postal_code, address.locality].filter(Boolean).join(' '),
    address.region,
    address.country,
  ]
    .filter(Boolean)
    .join('\n');
  return { formatted, ...address };
}

export function profileClaims(schema: ProfileSchema, profile: Record<string, unknown>): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const attribute of schema.attributes) {
    const value = profile[attribute.name];
    if (isEmpty(value)) continue;
    if (attribute.type === 'address' && typeof value === 'object') claims[attribute.claim] = addressClaim(value as AddressValue);
    else claims[attribute.claim] = value;
    // Gatehouse does not verify phone numbers (yet): the claim says so rather than staying silent.
    if (attribute.type === 'phone' && attribute.standard) claims.phone_number_verified = false;
  }
  return claims;
}

/** The claims each scope of the profile schema releases (oidc-provider's `claims` setting). */
export function scopeClaims(schema: ProfileSchema): Record<string, string[]> {
  return Object.fromEntries(Object.entries(schema.scopes).map(([scope, claims]) => [scope, [...claims]]));
}

/** The claims a sign-in asks for: those its scopes release, and those of its claims parameter. */
export function requestedClaims(
  schema: ProfileSchema,
  standardProfileClaims: readonly string[],
  scopes: Iterable<string>,
  claimsParameter: Iterable<string>,
): Set<string> {
  const requested = new Set(claimsParameter);
  for (const scope of scopes) {
    const released = scope === 'profile' ? standardProfileClaims : (schema.scopes[scope] ?? []);
    for (const claim of released) requested.add(claim);
  }
  return requested;
}
