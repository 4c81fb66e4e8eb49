// Terms and consents (issue 16): who accepted (or declined) which version of which document
// (terms of service, privacy policy: config/ POLICIES_FILE), when, from where and through which
// application; and the consent ledger, one row per decision about a purpose (marketing email,
// analytics, …), granted or not, with the purpose's version.
//
// Both are records of what people decided, kept as evidence: rows are only ever added. A trigger
// refuses UPDATE, so no code path (nor an operator's stray statement) can rewrite a decision;
// DELETE stays possible, so erasing a user (ON DELETE CASCADE) erases their records with them.
import type { Knex } from 'knex';

const APPEND_ONLY = ['policy_acceptances', 'consent_records'] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('policy_acceptances', (t) => {
    t.bigIncrements('id');
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('document').notNullable(); // the document's id in the policies file
    t.text('version').notNullable();
    t.text('decision').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('ip');
    t.text('client_id'); // the application the sign-in was for; no foreign key: the record outlives it
  });
  await knex.raw("alter table policy_acceptances add constraint policy_acceptances_decision check (decision in ('accepted', 'declined'))");
  // A user's latest decision per document. "Latest" is by id, not recorded_at: recorded_at is when
  // the recording transaction began, and one that waited on another may have begun first.
  await knex.raw('create index policy_acceptances_latest on policy_acceptances (user_id, document, id desc)');

  await knex.schema.createTable('consent_records', (t) => {
    t.bigIncrements('id');
    t.text('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('purpose').notNullable(); // the purpose's id in the policies file
    t.text('version').notNullable();
    t.boolean('granted').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('ip');
    t.text('client_id');
    t.text('source').notNullable(); // where the decision was made
  });
  await knex.raw("alter table consent_records add constraint consent_records_source check (source in ('sign_in', 'account', 'admin'))");
  // The latest decision per purpose of a user (the current state, the claim). The whole ledger is
  // exported in id order, which the primary key serves.
  await knex.raw('create index consent_records_latest on consent_records (user_id, purpose, id desc)');
  // The export of one purpose across users.
  await knex.raw('create index consent_records_purpose on consent_records (purpose, id)');

  await knex.raw(`
    create function refuse_record_update() returns trigger language plpgsql as $$
    begin
      raise exception '% is append-only: a recorded decision cannot be changed', tg_table_name
        using errcode = 'restrict_violation';
    end
    $$`);
  for (const table of APPEND_ONLY) {
    await knex.raw(`create trigger ${table}_append_only before update on ${table} for each row execute function refuse_record_update()`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of APPEND_ONLY) await knex.schema.dropTableIfExists(table);
  await knex.raw('drop function if exists refuse_record_update()');
}
