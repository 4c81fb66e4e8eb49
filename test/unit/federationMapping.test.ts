// How upstream claims become profile values (src/federation/accounts.ts: mappedProfile): the
// standard claims by their own names, then the connection's mapping — a claim name (SAML's hold
// dots), or a dotted path into an object claim — and only values the profile schema accepts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mappedProfile } from '../../src/federation/accounts.ts';
import { DEFAULT_PROFILE_SCHEMA } from '../../src/profile/schema.ts';
import type { Connection } from '../../src/federation/connections.ts';

const connection = (mapping: Record<string, string>) => ({ mapping }) as unknown as Connection;

describe('mapping upstream claims to the profile', () => {
  it('takes the standard claims by name, and the mapping by claim name or dotted path', () => {
    const claims = {
      name: 'Ada Lovelace',
      'urn:oid:2.5.4.42': 'Ada',
      profile: { last: 'Lovelace' },
      locale: 'en-GB',
      unrelated: 'ignored',
    };
    assert.deepEqual(
      mappedProfile(DEFAULT_PROFILE_SCHEMA, connection({ given_name: 'urn:oid:2.5.4.42', family_name: 'profile.last' }), claims),
      {
        name: 'Ada Lovelace',
        given_name: 'Ada',
        family_name: 'Lovelace',
        locale: 'en-GB',
      },
    );
  });

  it('leaves out values the schema refuses and attributes it does not declare', () => {
    const claims = { phone_number: 'call me', birthdate: '1815-12-10', website: 'javascript:alert(1)', tier: 'gold' };
    assert.deepEqual(mappedProfile(DEFAULT_PROFILE_SCHEMA, connection({ tier: 'tier' }), claims), { birthdate: '1815-12-10' });
  });
});
