// Token policies that belong to a client or an API:
// - an API names the client that is its resource server, the only other client that may
//   introspect the tokens issued for it (RFC 7662 §4: the server decides who learns what);
// - a client may name a default API, the audience of its client-credentials tokens when it
//   sends no `resource` (an audience-less token is never issued);
// - a confidential client may be let off PKCE on the code flow (legacy clients only; OAuth 2.1
//   and RFC 9700 §2.1.1 require it otherwise). Off by default.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resource_servers', (t) => {
    t.text('resource_server_client_id').references('client_id').inTable('clients').onDelete('SET NULL');
  });
  await knex.schema.alterTable('clients', (t) => {
    t.text('default_resource').references('identifier').inTable('resource_servers').onDelete('SET NULL');
    t.boolean('allow_code_without_pkce').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumn('allow_code_without_pkce');
    t.dropColumn('default_resource');
  });
  await knex.schema.alterTable('resource_servers', (t) => {
    t.dropColumn('resource_server_client_id');
  });
}
