// Self-service accounts: one-time tokens (email verification, password reset, invitation, email
// change) kept only as digests, each bound to its purpose and user; a temporary lock on an
// account after repeated failed sign-ins; and per-client choices about sign-up and unverified
// emails.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('one_time_tokens', (t) => {
    t.uuid('id').primary();
    t.text('digest').notNullable().unique(); // sha256 of the link's token, base64url
    t.text('purpose').notNullable(); // verify_email · password_reset · invitation · email_change · sign_in
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('code_digest'); // keyed digest of the 6-digit code typed instead of following the link
    t.integer('code_attempts').notNullable().defaultTo(0);
    t.jsonb('data').notNullable().defaultTo('{}'); // e.g. the new address of an email change; no secrets
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('consumed_at', { useTz: true });
    // How it was used up: link · code · continued (a followed link finished its sign-in) ·
    // replaced (a newer one was sent) · revoked · worn_out (five wrong codes).
    t.text('consumed_how');
  });
  await knex.raw('create index one_time_tokens_user on one_time_tokens (user_id, purpose)');
  await knex.raw('create index one_time_tokens_expires on one_time_tokens (expires_at)');

  await knex.schema.alterTable('users', (t) => {
    // Set when too many sign-ins failed: the right password is refused until then.
    t.timestamp('locked_until', { useTz: true });
  });

  await knex.schema.alterTable('clients', (t) => {
    t.boolean('allow_signup').notNullable().defaultTo(true);
    // Secure by default, for existing clients too: a user must prove their address first.
    t.boolean('require_verified_email').notNullable().defaultTo(true);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumn('require_verified_email');
    t.dropColumn('allow_signup');
  });
  await knex.schema.alterTable('users', (t) => t.dropColumn('locked_until'));
  await knex.schema.dropTableIfExists('one_time_tokens');
}
