// Protocol artefacts are stored by the SHA-256 digest of their value, never the value itself
// (see src/oidc/storedArtefacts.ts). Existing rows are rewritten in place, so everyone signed in
// stays signed in: a session cookie, token or code issued before the upgrade is found by its
// digest after it. Credentials that payloads carried in the clear go: the `jti` copy of the id and
// an interaction's session id. A device code, and an interaction that carries a device code or a
// pushed request, cannot be kept: oidc-provider needs their values back after the upgrade, which
// only a sealed copy could give, and SQL cannot seal. They live minutes; such a sign-in of the
// moment of the upgrade starts again.
import type { Knex } from 'knex';

const digest = (column: string) => `encode(sha256(convert_to(${column}, 'UTF8')), 'hex')`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`delete from oidc_payloads
    where model = 'DeviceCode' or (model = 'Interaction' and (payload -> 'deviceCode' is not null or payload -> 'parJti' is not null))`);
  await knex.raw(`update oidc_payloads set
    id = ${digest('id')},
    grant_id = ${digest('grant_id')},
    user_code = ${digest('user_code')},
    payload = case model
      when 'Interaction' then (payload - 'jti') #- '{session,cookie}'
      else payload - 'jti'
    end`);
}

export async function down(): Promise<void> {
  throw new Error('Stored artefact digests cannot be turned back into the values they were made from');
}
