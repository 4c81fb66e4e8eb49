// Which SECRET_KEY replaced which, by key id (a one-way fingerprint, never the key). Written at
// start while SECRET_KEY_PREVIOUS is set, so a later start without it can tell "the previous key
// was removed before `gatehouse secrets rotate` ran" from "SECRET_KEY is wrong".
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('secret_key_handovers', (t) => {
    t.text('previous_key_id').primary();
    t.text('current_key_id').notNullable();
    t.timestamp('noted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('secret_key_handovers');
}
