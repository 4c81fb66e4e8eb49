// SAML connections lose the allow_idp_initiated setting: IdP-initiated sign-in was never offered
// (a response without our RelayState is refused), and all the setting did was let a response
// without InResponseTo through in a sign-in Gatehouse started. Every answer now answers our request.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw("update connections set settings = settings - 'allow_idp_initiated' where type = 'saml'");
}

export async function down(): Promise<void> {
  // The setting's default (off) is what every connection now does; nothing to put back.
}
