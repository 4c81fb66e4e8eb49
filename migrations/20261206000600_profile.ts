// Progressive profiling (src/profile): what the rules for when to ask a user for an attribute
// need to know besides the value itself (users.profile): when the value was last given or
// confirmed (for reconfirm_after_days), until when a skipped attribute is not asked again, and
// how many times the user has signed in (for min_sign_ins).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('profile_attribute_states', (t) => {
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('attribute').notNullable();
    t.timestamp('confirmed_at', { useTz: true });
    t.timestamp('skipped_until', { useTz: true });
    t.primary(['user_id', 'attribute']);
  });
  await knex.schema.alterTable('users', (t) => {
    t.integer('sign_in_count').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('sign_in_count');
  });
  await knex.schema.dropTable('profile_attribute_states');
}
