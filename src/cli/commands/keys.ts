// `gatehouse keys …`: signing and cookie keys.
import type { Command } from '../command.ts';
import { list } from '../command.ts';
import { CommandError } from '../context.ts';
import { listKeys, rotateSigningKeys } from '../../keys/index.ts';
import { SIGNING_ALGS } from '../../oidc/keys.ts';

export const KEYS_COMMANDS: Command[] = [
  {
    name: 'keys rotate',
    summary:
      'Replace the signing and cookie keys. On a PostgreSQL server new keys are published 60 s before they sign (--now: at once); retired keys stay published until what they signed expires',
    usage: 'keys rotate [--alg RS256 --alg ES256] [--now]',
    options: { alg: { type: 'string', multiple: true }, now: { type: 'boolean' } },
    async run(ctx, values) {
      const bad = list(values.alg).filter((a) => !(SIGNING_ALGS as readonly string[]).includes(a));
      if (bad.length) throw new CommandError(`Unsupported --alg ${bad.join(', ')}; choose from ${SIGNING_ALGS.join(', ')}`);
      const result = await rotateSigningKeys(ctx.service, ctx.box, ctx.database.kind, { algs: list(values.alg), now: Boolean(values.now) });
      await ctx.afterKeyRotation?.();
      return result;
    },
  },
  {
    name: 'keys list',
    summary: 'List signing and cookie keys (never their secret parts)',
    usage: 'keys list',
    run: (ctx) => listKeys(ctx.database.db),
  },
];
