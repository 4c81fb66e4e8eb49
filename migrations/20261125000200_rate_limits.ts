// Counters for rate-limiter-flexible's PostgreSQL store (its own column layout), shared by every
// instance so sign-in throttling holds across a cluster. Keys are digests, never emails or IPs.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create table rate_limits (
    key varchar(255) primary key,
    points integer not null default 0,
    expire bigint
  )`);
  await knex.raw('create index rate_limits_expire on rate_limits (expire)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_limits');
}
