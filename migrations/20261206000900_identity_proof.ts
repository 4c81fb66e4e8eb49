// Whether a linked identity's holder ever proved the account's email: a link its user made (after
// signing in to the account) or one whose provider verified the email is proven; one made at a
// just-in-time creation on an email the provider did not verify is not. A password reset (which
// proves the mailbox) removes the unproven ones: their holder may be whoever typed the address
// first upstream, not its owner. Existing links count as proven when their user's email is
// verified, the same judgement a reset of that account would make.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('federated_identities', (t) => {
    t.boolean('proven');
  });
  await knex.raw(
    'update federated_identities f set proven = coalesce((select u.email_verified from users u where u.id = f.user_id), false)',
  );
  await knex.raw('alter table federated_identities alter column proven set not null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('federated_identities', (t) => {
    t.dropColumn('proven');
  });
}
