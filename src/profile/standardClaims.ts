// The standard claims of OpenID Connect Core §5.1 that a user's profile may hold (email has its
// own column and flow): each works out of the box, with its type, label and scope, and an
// operator's profile schema only adds rules, help text or tighter validation to it.
import type { AttributeType } from './schema.ts';

export interface StandardClaim {
  type: AttributeType;
  label: string;
  scope: 'profile' | 'phone' | 'address';
  /** Longest value accepted (text types). */
  maxLength?: number;
  /** The browser's autocomplete token for the field. */
  autocomplete?: string;
}

export const STANDARD_CLAIMS: Readonly<Record<string, StandardClaim>> = {
  name: { type: 'string', label: 'Full name', scope: 'profile', maxLength: 200, autocomplete: 'name' },
  given_name: { type: 'string', label: 'First name', scope: 'profile', maxLength: 100, autocomplete: 'given-name' },
  family_name: { type: 'string', label: 'Last name', scope: 'profile', maxLength: 100, autocomplete: 'family-name' },
  middle_name: { type: 'string', label: 'Middle name', scope: 'profile', maxLength: 100, autocomplete: 'additional-name' },
  nickname: { type: 'string', label: 'Nickname', scope: 'profile', maxLength: 100, autocomplete: 'nickname' },
  preferred_username: { type: 'string', label: 'Username', scope: 'profile', maxLength: 100, autocomplete: 'username' },
  profile: { type: 'url', label: 'Profile page', scope: 'profile', maxLength: 2000, autocomplete: 'url' },
  picture: { type: 'url', label: 'Picture', scope: 'profile', maxLength: 2000, autocomplete: 'photo' },
  website: { type: 'url', label: 'Website', scope: 'profile', maxLength: 2000, autocomplete: 'url' },
  gender: { type: 'string', label: 'Gender', scope: 'profile', maxLength: 50, autocomplete: 'sex' },
  birthdate: { type: 'date', label: 'Date of birth', scope: 'profile', autocomplete: 'bday' },
  zoneinfo: { type: 'string', label: 'Time zone', scope: 'profile', maxLength: 64 },
  locale: { type: 'string', label: 'Language', scope: 'profile', maxLength: 35, autocomplete: 'language' },
  phone_number: { type: 'phone', label: 'Phone number', scope: 'phone', autocomplete: 'tel' },
  address: { type: 'address', label: 'Address', scope: 'address', autocomplete: 'street-address' },
};

/** Claims a custom attribute may not take: the protocol's own and the standard ones. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  ...Object.keys(STANDARD_CLAIMS),
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'auth_time',
  'nonce',
  'acr',
  'amr',
  'azp',
  'at_hash',
  'c_hash',
  'sid',
  'email',
  'email_verified',
  'phone_number_verified',
  'updated_at',
  'consents',
  'scope',
  'client_id',
  'cnf',
]);

/** The scopes the standard claims (and the consents claim) are released under. */
export const CLAIM_SCOPES = ['phone', 'address', 'consents'] as const;
