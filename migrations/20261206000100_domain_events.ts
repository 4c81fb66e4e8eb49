// The outbox: one domain event per committed change, written in the change's own transaction.
// Events are read in (tx_id, seq) order and only once every transaction that could still add an
// earlier one has ended (see src/events), so a poller with a cursor never skips a late commit.
// Users can be suspended: they cannot sign in and everything issued to them is revoked.
// The admin API remembers the answer to a create sent with an Idempotency-Key, per client.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('domain_events', (t) => {
    t.bigIncrements('seq');
    t.specificType('tx_id', 'xid8').notNullable().defaultTo(knex.raw('pg_current_xact_id()'));
    t.uuid('id').notNullable().unique(); // CloudEvents id
    t.text('type').notNullable(); // gatehouse.user.created …
    t.text('source').notNullable(); // the issuer
    t.text('subject'); // the id of what changed
    t.timestamp('time', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.jsonb('actor').notNullable(); // { type: cli | client | user | system, id? }
    t.text('request_id');
    t.jsonb('data').notNullable().defaultTo('{}');
  });
  await knex.raw('create index domain_events_order on domain_events (tx_id, seq)');
  await knex.raw('create index domain_events_type on domain_events (type, tx_id, seq)');

  await knex.schema.alterTable('users', (t) => {
    t.timestamp('suspended_at', { useTz: true });
  });
  // Users are listed a page at a time by (created_at, id); a page's cursor carries the time in
  // milliseconds, so that is what is stored (microseconds would make the cursor's row repeat).
  await knex.raw("update users set created_at = date_trunc('milliseconds', created_at)");
  await knex.raw("alter table users alter column created_at set default date_trunc('milliseconds', now())");
  await knex.raw('create index users_created on users (created_at, id)');

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.text('client_id').notNullable();
    t.text('key').notNullable();
    t.text('request_digest').notNullable(); // method, path and body: a reuse with another body is refused
    t.jsonb('response'); // the first answer, sealed; written in the transaction that made it
    t.text('location');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['client_id', 'key']);
  });
  await knex.raw('create index idempotency_keys_expires on idempotency_keys (expires_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('idempotency_keys');
  await knex.raw('drop index if exists users_created');
  await knex.schema.alterTable('users', (t) => t.dropColumn('suspended_at'));
  await knex.schema.dropTableIfExists('domain_events');
}
