// The sign-in methods, in the order their parts appear on a screen. A new method is one module
// here (its routes, its limits, its fragment under views/methods/); the prompts compose them.
import type { Context } from 'koa';
import type { InteractionDeps, MethodFragment, MethodScreen, SignInMethod } from '../types.ts';
import { passwordMethod } from './password.ts';
import { totpMethod } from './totp.ts';
import { recoveryCodeMethod } from './recoveryCode.ts';
import { passkeyMethod } from './passkey.ts';
import { upstreamMethod } from './upstream.ts';

export const SIGN_IN_METHODS: readonly SignInMethod[] = [passwordMethod, passkeyMethod, upstreamMethod, totpMethod, recoveryCodeMethod];

export interface ComposedFragments {
  fragments: (MethodFragment & { method: string })[];
  scripts: string[];
  identifierAutocomplete: string;
}

/** The parts of the methods this prompt offers here, with what they ask of the screen. */
export async function methodFragments(
  ctx: Context,
  screen: MethodScreen,
  deps: InteractionDeps,
  wanted: (method: string) => boolean = () => true,
): Promise<ComposedFragments> {
  const offered = SIGN_IN_METHODS.filter((method) => method.offeredBy.includes(screen.prompt) && wanted(method.id));
  const parts = await Promise.all(offered.map(async (method) => ({ method: method.id, part: await method.fragment(ctx, screen, deps) })));
  const fragments = parts.flatMap(({ method, part }) => (part ? [{ ...part, method }] : []));
  return {
    fragments,
    scripts: [...new Set(fragments.flatMap((f) => f.scripts ?? []))],
    identifierAutocomplete: ['username', ...new Set(fragments.flatMap((f) => f.identifierAutocomplete ?? []))].join(' '),
  };
}
