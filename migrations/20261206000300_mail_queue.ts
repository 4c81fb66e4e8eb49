// Mail waiting to be sent (src/mail). A row is written in the transaction of the change that
// calls for the mail, so the mail exists exactly when the change committed; a worker sends it
// afterwards, retrying with backoff, and holds a row it is sending with a lease (lease_until)
// that another instance may take over once it lapses. The template data holds one-time links
// and codes: it is sealed with SECRET_KEY, and set to null once the mail is sent or given up.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('mail_queue', (t) => {
    t.text('id').primary(); // a uuid; also the Message-ID's local part, so a resend is one message
    t.text('recipient').notNullable();
    t.text('template').notNullable();
    t.text('payload'); // the template data as JSON, sealed (table mail_queue, purpose payload)
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('lease_until', { useTz: true });
    t.timestamp('sent_at', { useTz: true });
    t.timestamp('failed_at', { useTz: true }); // given up after the last attempt
    t.text('last_error'); // the transport's message, never the payload
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // What the worker looks for: unsent mail whose time has come.
  await knex.raw('create index mail_queue_due on mail_queue (next_attempt_at) where sent_at is null and failed_at is null');
  // What the sweeper deletes: mail sent or given up long enough ago.
  await knex.raw('create index mail_queue_finished on mail_queue ((coalesce(sent_at, failed_at)))');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('mail_queue');
}
