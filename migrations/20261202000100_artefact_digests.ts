// Protocol artefacts are stored by the SHA-256 digest of their value, never the value itself
// (see src/oidc/storedArtefacts.ts). Existing rows are rewritten in place, so everyone signed in
// stays signed in: a session cookie, token or code issued before the upgrade is found by its
// digest after it. Credentials that payloads carried in the clear go: the `jti` copy of the id,
// a device code's user code, and an interaction's device code, pushed-request id and session id
// (an in-flight device-flow or pushed-request sign-in of the moment of the upgrade starts again).
import type { Knex } from 'knex';

const digest = (column: string) => `encode(sha256(convert_to(${column}, 'UTF8')), 'hex')`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`update oidc_payloads set
    id = ${digest('id')},
    grant_id = ${digest('grant_id')},
    user_code = ${digest('user_code')},
    payload = case model
      when 'DeviceCode' then payload - 'jti' - 'userCode'
      when 'Interaction' then (payload - 'jti' - 'deviceCode' - 'parJti') #- '{session,cookie}'
      else payload - 'jti'
    end`);
}

export async function down(): Promise<void> {
  throw new Error('Stored artefact digests cannot be turned back into the values they were made from');
}
