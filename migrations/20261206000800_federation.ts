// Federation (src/federation): the upstream identity providers operators connect (connections)
// and which upstream identity belongs to which user (federated_identities). A connection's secret
// (an upstream client secret, later a SAML private key) is sealed with SECRET_KEY; everything
// else about it is configuration, kept as JSON beside the columns that are looked up.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('connections', (t) => {
    t.text('id').primary(); // a slug chosen by the operator: google, acme-sso
    t.text('type').notNullable();
    t.text('display_name').notNullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.jsonb('client_ids'); // null: offered to every client
    t.jsonb('domains').notNullable().defaultTo('[]'); // email domains for home-realm discovery
    t.boolean('jit').notNullable().defaultTo(true);
    t.text('linking').notNullable().defaultTo('verified_email_with_proof');
    t.text('claims_update').notNullable().defaultTo('on_sign_in');
    t.jsonb('mapping').notNullable().defaultTo('{}');
    t.jsonb('settings').notNullable().defaultTo('{}');
    t.text('secret'); // sealed
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw("alter table connections add constraint connections_type check (type in ('oidc', 'oauth2', 'saml'))");
  await knex.raw("alter table connections add constraint connections_linking check (linking in ('verified_email_with_proof', 'never'))");
  await knex.raw("alter table connections add constraint connections_claims_update check (claims_update in ('on_sign_in', 'never'))");

  await knex.schema.createTable('federated_identities', (t) => {
    t.text('connection_id').notNullable().references('id').inTable('connections').onDelete('CASCADE');
    t.text('subject').notNullable(); // the upstream's stable id for the person (sub, NameID)
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('email'); // as the upstream last said it, for the user's list of linked identities
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.primary(['connection_id', 'subject']);
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('federated_identities');
  await knex.schema.dropTable('connections');
}
