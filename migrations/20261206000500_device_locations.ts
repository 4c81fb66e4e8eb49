// Where a remembered browser was last seen, for the adaptive-MFA rules that compare places
// (src/mfa/risk.ts: new_country, impossible_travel). Filled only when GEOIP_DATABASE is set:
// known_devices.country (already there) and now the coordinates a City database gives. Null is
// "not known": no GeoIP database, an address it does not list, or a Country-only database.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('known_devices', (t) => {
    t.double('latitude');
    t.double('longitude');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('known_devices', (t) => {
    t.dropColumn('longitude');
    t.dropColumn('latitude');
  });
}
