// Which clients may get machine-to-machine (client credentials) tokens for which API, and with
// which of its scopes. No row, no token: registering a client never grants API access by itself.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('client_api_access', (t) => {
    t.text('client_id').notNullable().references('client_id').inTable('clients').onDelete('CASCADE');
    t.text('resource').notNullable().references('identifier').inTable('resource_servers').onDelete('CASCADE');
    // null: every scope the API defines, now and later.
    t.jsonb('scopes');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['client_id', 'resource']);
  });
  await knex.raw('create index client_api_access_resource on client_api_access (resource)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('client_api_access');
}
