// A rotated key is published before it signs: every instance must be showing it in JWKS before
// any instance hands out a token signed with it.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('keys', (t) => {
    t.timestamp('activates_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('keys', (t) => {
    t.dropColumn('activates_at');
  });
}
