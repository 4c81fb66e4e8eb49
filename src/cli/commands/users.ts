// `gatehouse users …`: the people who sign in.
import type { Command } from '../command.ts';
import { required, str } from '../command.ts';
import { CommandError } from '../context.ts';
import type { CommandContext } from '../context.ts';
import { NotFoundError } from '../../errors/index.ts';
import {
  type AccountDeps,
  accountDeps,
  type ClientNameLookup,
  createUser,
  deleteUser,
  findUser,
  inviteUser,
  listUsers,
  publicUser,
  requestEmailChange,
  revokeInvitation,
  suspendUser,
  unsuspendUser,
  type User,
} from '../../accounts/index.ts';
import { getClient } from '../../clients/index.ts';
import { factorSummary, resetSecondFactors } from '../../mfa/factors.ts';
import { linkedIdentities } from '../../federation/index.ts';

/** Operators may name a user by id or by email. */
async function userNamed(ctx: CommandContext, who: string): Promise<User> {
  const user = await findUser(ctx.database.db, who);
  if (!user) throw new NotFoundError(`No user ${who}`);
  return user;
}

// Mail is queued in the change's transaction; the server's mailer sends it. Inside the server
// (admin socket) or beside it (same PostgreSQL), the mailer finds it at its next look, within
// 5 s (mail/mailer.ts); with no server running it waits in the queue until one starts. So the
// CLI need not wake anything.
const cliAccountDeps = (ctx: CommandContext): AccountDeps => accountDeps(ctx.config, ctx.box);

/** The name an invitation shows for a client: its registered name, else its id; undefined when there is no such client. */
const clientNameLookup =
  (ctx: CommandContext): ClientNameLookup =>
  (clientId) =>
    getClient(ctx.database.db, clientId).then(
      (client) => client.client_name ?? client.client_id,
      (error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      },
    );

export const USERS_COMMANDS: Command[] = [
  {
    name: 'users create',
    summary: 'Create a user; the password comes from --password or, safer, --password-stdin, or is an imported bcrypt hash',
    usage:
      "users create --email EMAIL (--password PASSWORD | --password-stdin | --password-hash '$2b$…') [--name NAME] [--given-name N] [--family-name N] [--email-verified]",
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      'password-hash': { type: 'string' },
      name: { type: 'string' },
      'given-name': { type: 'string' },
      'family-name': { type: 'string' },
      'email-verified': { type: 'boolean' },
    },
    readsStdin: (values) => Boolean(values['password-stdin']),
    async run(ctx, values, _positionals, stdin) {
      const password = values['password-stdin'] ? stdin.replace(/\r?\n$/, '') : str(values.password);
      const passwordHash = str(values['password-hash']);
      if (passwordHash !== undefined && (values.password !== undefined || values['password-stdin']))
        throw new CommandError('--password-hash cannot be combined with --password or --password-stdin');
      if (!password && passwordHash === undefined) throw new CommandError('--password, --password-stdin or --password-hash is required');
      const profile = Object.fromEntries(
        [
          ['name', values.name],
          ['given_name', values['given-name']],
          ['family_name', values['family-name']],
        ].filter(([, v]) => typeof v === 'string'),
      );
      const input = {
        email: required(values, 'email'),
        ...(passwordHash !== undefined ? { password_hash: passwordHash } : { password }),
        email_verified: Boolean(values['email-verified']),
        profile,
      };
      return publicUser(await createUser(ctx.service, input, ctx.config, ctx.config.declarations.current().profile));
    },
  },
  {
    name: 'users invite',
    summary: 'Create a user without a password and email them a link (good for 7 days) to choose one',
    usage: 'users invite --email EMAIL [--name NAME] [--client CLIENT_ID]',
    options: { email: { type: 'string' }, name: { type: 'string' }, client: { type: 'string' } },
    async run(ctx, values) {
      const input = { email: required(values, 'email'), name: str(values.name), client_id: str(values.client) };
      const invitation = await inviteUser(ctx.service, cliAccountDeps(ctx), input, clientNameLookup(ctx));
      // The link is in the email only.
      return { ...invitation.user, expires_at: invitation.expires_at };
    },
  },
  {
    name: 'users revoke-invitation',
    summary: 'Withdraw a pending invitation: its link stops working',
    usage: 'users revoke-invitation ID_OR_EMAIL',
    positionals: ['ID_OR_EMAIL'],
    async run(ctx, _values, [who]) {
      const user = await userNamed(ctx, who);
      await revokeInvitation(ctx.service, user.id);
      return { revoked_invitation: user.id };
    },
  },
  {
    name: 'users change-email',
    summary: 'Send a confirmation link to a new address; the old one stays until it is followed',
    usage: 'users change-email ID_OR_EMAIL --email NEW_EMAIL',
    options: { email: { type: 'string' } },
    positionals: ['ID_OR_EMAIL'],
    async run(ctx, values, [who]) {
      const user = await userNamed(ctx, who);
      const newEmail = required(values, 'email');
      const { expires_at } = await requestEmailChange(ctx.service, cliAccountDeps(ctx), user.id, newEmail);
      return { id: user.id, email: user.email, new_email: newEmail.trim(), expires_at };
    },
  },
  {
    name: 'users list',
    summary: 'List users, oldest first',
    usage: 'users list [--limit N] [--email EMAIL]',
    options: { limit: { type: 'string' }, email: { type: 'string' } },
    async run(ctx, values) {
      const limit = Number(values.limit ?? 100);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CommandError('--limit must be a whole number from 1 to 1000');
      return (await listUsers(ctx.database.db, { limit, email: str(values.email) })).map(publicUser);
    },
  },
  {
    name: 'users show',
    summary: 'Show a user by id or email, with their second factors and linked identities',
    usage: 'users show ID_OR_EMAIL',
    positionals: ['ID_OR_EMAIL'],
    run: async (ctx, _values, [who]) => {
      const user = await userNamed(ctx, who);
      return {
        ...publicUser(user),
        factors: await factorSummary(ctx.service.db, user.id),
        identities: await linkedIdentities(ctx.service.db, user.id),
      };
    },
  },
  {
    name: 'users reset-factors',
    summary: 'Remove a user’s passkeys, authenticator app and recovery codes, and forget their browsers (they lost them)',
    usage: 'users reset-factors ID_OR_EMAIL',
    positionals: ['ID_OR_EMAIL'],
    async run(ctx, _values, [who]) {
      const user = await userNamed(ctx, who);
      return { id: user.id, removed: await resetSecondFactors(ctx.service, user.id) };
    },
  },
  {
    name: 'users suspend',
    summary: 'Stop a user from signing in and revoke their sessions and tokens',
    usage: 'users suspend ID_OR_EMAIL',
    positionals: ['ID_OR_EMAIL'],
    run: async (ctx, _values, [who]) => publicUser(await suspendUser(ctx.service, (await userNamed(ctx, who)).id)),
  },
  {
    name: 'users unsuspend',
    summary: 'Let a suspended user sign in again',
    usage: 'users unsuspend ID_OR_EMAIL',
    positionals: ['ID_OR_EMAIL'],
    run: async (ctx, _values, [who]) => publicUser(await unsuspendUser(ctx.service, (await userNamed(ctx, who)).id)),
  },
  {
    name: 'users delete',
    summary: 'Delete a user, their sessions and every token issued to them',
    usage: 'users delete ID_OR_EMAIL',
    positionals: ['ID_OR_EMAIL'],
    async run(ctx, _values, [who]) {
      const user = await userNamed(ctx, who);
      await deleteUser(ctx.service, user.id);
      return { deleted: user.id };
    },
  },
];
