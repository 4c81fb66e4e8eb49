// Passkeys and second factors (issue 15): what a sign-in proved so far, one record per
// verification kept on its interaction; the factors a user holds (passkeys, a TOTP
// authenticator, recovery codes); the browsers a user has signed in from (adaptive MFA); and
// per-client and per-user choices about them.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // A verification a sign-in method started or finished. `flow` names what it is bound to
  // (`interaction:<uid>` for a sign-in, `account:<session>` for an enrolment in the account
  // area); a challenge is single-use: the request that completes it sets consumed_at with one
  // conditional update. No secrets: challenges are public values, state holds none.
  await knex.schema.createTable('verification_records', (t) => {
    t.uuid('id').primary();
    t.text('flow').notNullable();
    t.text('method').notNullable(); // password · passkey · totp · recovery_code · email_code · …
    t.text('user_id').references('id').inTable('users').onDelete('CASCADE');
    t.text('challenge').unique();
    t.jsonb('state').notNullable().defaultTo('{}');
    t.jsonb('amr').notNullable().defaultTo('[]');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('verified_at', { useTz: true });
    t.timestamp('consumed_at', { useTz: true });
  });
  await knex.raw('create index verification_records_flow on verification_records (flow)');
  await knex.raw('create index verification_records_expires on verification_records (expires_at)');

  await knex.schema.createTable('passkeys', (t) => {
    t.uuid('id').primary();
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('credential_id').notNullable().unique(); // base64url, as the authenticator gave it
    t.binary('public_key').notNullable(); // COSE public key: not a secret
    t.bigInteger('counter').notNullable().defaultTo(0);
    t.jsonb('transports').notNullable().defaultTo('[]');
    t.text('device_type').notNullable(); // singleDevice · multiDevice (synced)
    t.boolean('backed_up').notNullable().defaultTo(false);
    t.text('aaguid');
    t.text('name').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
  });
  await knex.raw('create index passkeys_user on passkeys (user_id)');

  // One authenticator app per user. The seed is sealed with SECRET_KEY; last_used_step makes a
  // code (and any older one) unusable once accepted, with one conditional update.
  await knex.schema.createTable('totp_factors', (t) => {
    t.text('user_id').primary().references('id').inTable('users').onDelete('CASCADE');
    t.text('secret').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('confirmed_at', { useTz: true });
    t.bigInteger('last_used_step');
  });

  // Stored as keyed digests only; a new set replaces the old one.
  await knex.schema.createTable('recovery_codes', (t) => {
    t.uuid('id').primary();
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('digest').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('used_at', { useTz: true });
  });
  await knex.raw('create index recovery_codes_user on recovery_codes (user_id)');

  // A browser a user signed in from, recognised by a long-lived signed cookie whose random
  // value is stored only as a digest.
  await knex.schema.createTable('known_devices', (t) => {
    t.uuid('id').primary();
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('digest').notNullable().unique();
    t.text('name').notNullable(); // what the browser says it is, e.g. "Chrome on Linux"
    t.text('network').notNullable(); // the IPv4 /24 or IPv6 /48 last seen
    t.text('country');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_seen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('create index known_devices_user on known_devices (user_id)');

  await knex.schema.alterTable('users', (t) => {
    // "Add a passkey" after sign-in is not offered again before this time.
    t.timestamp('passkey_offer_snoozed_until', { useTz: true });
  });

  await knex.schema.alterTable('clients', (t) => {
    t.boolean('require_mfa').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => t.dropColumn('require_mfa'));
  await knex.schema.alterTable('users', (t) => t.dropColumn('passkey_offer_snoozed_until'));
  for (const table of ['known_devices', 'recovery_codes', 'totp_factors', 'passkeys', 'verification_records']) {
    await knex.schema.dropTableIfExists(table);
  }
}
