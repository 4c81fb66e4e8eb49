// Core schema: provider artefacts, clients, resource servers (APIs), keys, users, audit events.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Every oidc-provider model but Client lives here, keyed by (model, id), with the columns
  // that lookups need pulled out of the payload.
  await knex.schema.createTable('oidc_payloads', (t) => {
    t.text('model').notNullable();
    t.text('id').notNullable();
    t.jsonb('payload').notNullable();
    t.text('grant_id');
    t.text('user_code');
    t.text('uid');
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('consumed_at', { useTz: true });
    t.primary(['model', 'id']);
  });
  await knex.raw('create index oidc_payloads_grant_id on oidc_payloads (model, grant_id) where grant_id is not null');
  await knex.raw('create unique index oidc_payloads_user_code on oidc_payloads (model, user_code) where user_code is not null');
  await knex.raw('create unique index oidc_payloads_uid on oidc_payloads (model, uid) where uid is not null');
  await knex.raw('create index oidc_payloads_expires_at on oidc_payloads (expires_at) where expires_at is not null');

  await knex.schema.createTable('clients', (t) => {
    t.text('client_id').primary();
    // sha256:<hex> for secrets only ever compared, enc:<box> where the protocol needs the
    // plain value back (client_secret_jwt, HS* algorithms).
    t.text('client_secret');
    t.text('client_name');
    t.jsonb('redirect_uris').notNullable().defaultTo('[]');
    t.jsonb('post_logout_redirect_uris').notNullable().defaultTo('[]');
    t.jsonb('grant_types').notNullable();
    t.jsonb('response_types').notNullable();
    t.text('token_endpoint_auth_method').notNullable();
    t.text('application_type').notNullable().defaultTo('web');
    t.text('scope');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.text('registered_by').notNullable(); // 'cli' or 'dynamic_registration'
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('resource_servers', (t) => {
    t.text('identifier').primary(); // the resource indicator (RFC 8707), an absolute URI
    t.text('name').notNullable();
    t.jsonb('scopes').notNullable().defaultTo('[]');
    t.text('access_token_format').notNullable(); // 'opaque' | 'jwt'
    t.text('signing_alg'); // for jwt: RS256 | ES256 | PS256
    t.integer('access_token_ttl').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('keys', (t) => {
    t.text('kid').primary();
    t.text('kind').notNullable(); // 'signing' | 'cookie'
    t.text('alg'); // signing keys only
    t.text('secret').notNullable(); // encrypted with SECRET_KEY
    t.text('state').notNullable(); // 'current' | 'retired'
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('retired_at', { useTz: true });
    // A retired key stays published (signing) or accepted (cookie) until this moment.
    t.timestamp('expires_at', { useTz: true });
  });
  await knex.raw("create unique index keys_one_current on keys (kind, coalesce(alg, '')) where state = 'current'");

  await knex.schema.createTable('users', (t) => {
    t.text('id').primary(); // the stable `sub`
    t.text('email').notNullable();
    t.boolean('email_verified').notNullable().defaultTo(false);
    t.text('password_hash');
    t.jsonb('profile').notNullable().defaultTo('{}'); // standard claims other than email
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('create unique index users_email_ci on users (lower(email))');

  await knex.schema.createTable('audit_events', (t) => {
    t.bigIncrements('id');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('type').notNullable();
    t.text('user_id');
    t.text('client_id');
    t.text('ip');
    t.text('request_id');
    t.jsonb('details').notNullable().defaultTo('{}');
  });
  await knex.raw('create index audit_events_at on audit_events (at)');
  await knex.raw('create index audit_events_user on audit_events (user_id, at) where user_id is not null');
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['audit_events', 'users', 'keys', 'resource_servers', 'clients', 'oidc_payloads']) {
    await knex.schema.dropTableIfExists(table);
  }
}
