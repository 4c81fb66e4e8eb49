// The Security page: the ways the person proves it is them besides their password. Each part
// (part.ts) is one box on the page with its own forms; adding, replacing or removing a factor
// needs a recent sign-in (requireRecentSignIn).
import type { Context } from 'koa';
import type { AccountSection, AccountAreaDeps } from '../types.ts';
import { renderAccountPage } from '../pages.ts';
import { SECURITY_PATH, type SecurityPart } from './part.ts';
import { passkeysPart } from './passkeys.ts';
import { authenticatorAppPart } from './authenticatorApp.ts';
import { recoveryCodesPart } from './recoveryCodes.ts';
import { rememberedBrowsersPart } from './rememberedBrowsers.ts';
import { linkedIdentitiesPart } from './linkedIdentities.ts';

const PARTS: readonly SecurityPart[] = [
  passkeysPart,
  authenticatorAppPart,
  recoveryCodesPart,
  linkedIdentitiesPart,
  rememberedBrowsersPart,
];

const messageOf = (ctx: Context, key: 'done' | 'problem') => {
  const value = ctx.query[key];
  if (typeof value !== 'string') return undefined;
  const messages = PARTS.map((part) => (key === 'done' ? part.notices : (part.problems ?? {})));
  return messages.find((m) => Object.hasOwn(m, value))?.[value];
};

async function securityPage(ctx: Context, deps: AccountAreaDeps) {
  const parts = [];
  for (const part of PARTS) parts.push({ template: part.template, locals: await part.load(ctx, deps) });
  await renderAccountPage(ctx, 'security', {
    title: 'Security',
    parts,
    notice: messageOf(ctx, 'done'),
    problem: messageOf(ctx, 'problem'),
    scripts: [...new Set(PARTS.flatMap((part) => part.scripts ?? []))],
  });
}

export const securitySection: AccountSection = {
  label: 'Security',
  path: SECURITY_PATH,
  summary: 'Passkeys, authenticator app, recovery codes, linked identities and remembered browsers',
  routes(router, deps) {
    router.get(SECURITY_PATH, (ctx) => securityPage(ctx, deps));
    for (const part of PARTS) part.routes(router, deps);
  },
};
