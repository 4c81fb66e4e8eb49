// `gatehouse users …`: the people who sign in.
import type { Command } from '../command.ts';
import { required, str } from '../command.ts';
import { CommandError } from '../context.ts';
import type { CommandContext } from '../context.ts';
import { NotFoundError } from '../../errors/index.ts';
import { createUser, deleteUser, findUser, listUsers, publicUser, suspendUser, unsuspendUser, type User } from '../../accounts/index.ts';

/** Operators may name a user by id or by email. */
async function userNamed(ctx: CommandContext, who: string): Promise<User> {
  const user = await findUser(ctx.database.db, who);
  if (!user) throw new NotFoundError(`No user ${who}`);
  return user;
}

export const USERS_COMMANDS: Command[] = [
  {
    name: 'users create',
    summary: 'Create a user; the password comes from --password or, safer, --password-stdin',
    usage:
      'users create --email EMAIL (--password PASSWORD | --password-stdin) [--name NAME] [--given-name N] [--family-name N] [--email-verified]',
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      name: { type: 'string' },
      'given-name': { type: 'string' },
      'family-name': { type: 'string' },
      'email-verified': { type: 'boolean' },
    },
    readsStdin: (values) => Boolean(values['password-stdin']),
    async run(ctx, values, _positionals, stdin) {
      const password = values['password-stdin'] ? stdin.replace(/\r?\n$/, '') : str(values.password);
      if (!password) throw new CommandError('--password or --password-stdin is required');
      const profile = Object.fromEntries(
        [
          ['name', values.name],
          ['given_name', values['given-name']],
          ['family_name', values['family-name']],
        ].filter(([, v]) => typeof v === 'string'),
      );
      const input = { email: required(values, 'email'), password, email_verified: Boolean(values['email-verified']), profile };
      return publicUser(await createUser(ctx.service, input, ctx.config.bcryptCost));
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
    summary: 'Show a user by id or email',
    usage: 'users show ID_OR_EMAIL',
    positionals: ['ID_OR_EMAIL'],
    run: async (ctx, _values, [who]) => publicUser(await userNamed(ctx, who)),
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
