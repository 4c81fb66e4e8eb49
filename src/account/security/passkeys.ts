// Passkeys: the list (name, when added, when last used), renaming, removing, and adding one. Adding
// is a WebAuthn ceremony, so it is the one thing here that needs JavaScript
// (views/static/account-passkeys.js): the script asks for options, the browser creates the
// passkey, the script sends it back. The challenge of those options is kept as a verification
// record of this account session (src/verifications) and taken once when the passkey comes back.
import { profileName } from '../../accounts/index.ts';
import type { Context } from 'koa';
import type { AccountAreaDeps } from '../types.ts';
import {
  listPasskeys,
  passkeyRegistrationOptions,
  PasskeyRefusedError,
  registerPasskey,
  removePasskey,
  renamePasskey,
} from '../../mfa/passkeys.ts';
import { relyingParty } from '../../mfa/relyingParty.ts';
import { hasSecondFactor, secondFactorsOf } from '../../mfa/factors.ts';
import { recoveryCodesStatus } from '../../mfa/recoveryCodes.ts';
import { accountFlow, startVerification, takeChallenge } from '../../verifications/index.ts';
import { InvalidInputError, NotFoundError } from '../../errors/index.ts';
import { WEBAUTHN_BROWSER_PATH } from '../../http/staticFiles.ts';
import { accountChangeContext, verifyAccountCsrf } from '../pages.ts';
import { requireRecentSignIn, signedInAccount } from '../recentSignIn.ts';
import { field, formBody, jsonBody } from '../../http/requestBodies.ts';
import { SECURITY_PATH, backToSecurity, shownDate, type SecurityPart } from './part.ts';
import { RECOVERY_CODES_PATH } from './recoveryCodes.ts';

const PASSKEYS_PATH = `${SECURITY_PATH}/passkeys`;
const OPTIONS_PATH = `${PASSKEYS_PATH}/options`;
const CEREMONY = 'passkey';
const CSRF_HEADER = 'x-csrf-token';

const flowOf = (ctx: Context) => accountFlow(signedInAccount(ctx).session.id);

/** The options for a new passkey; their challenge waits in this session's flow. */
async function registrationOptions(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, ctx.get(CSRF_HEADER));
  requireRecentSignIn(ctx);
  const { user } = signedInAccount(ctx);
  const existing = await listPasskeys(deps.db, user.id);
  const { options, challenge } = await passkeyRegistrationOptions(
    relyingParty(deps.config),
    { id: user.id, email: user.email, name: profileName(user.profile) },
    existing,
  );
  await startVerification(deps.db, { flow: flowOf(ctx), method: CEREMONY, challenge, userId: user.id });
  ctx.body = { options };
}

/** The passkey the browser created, checked against the challenge (used up either way) and stored. */
async function addPasskey(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, ctx.get(CSRF_HEADER));
  requireRecentSignIn(ctx);
  const { user } = signedInAccount(ctx);
  const body = (ctx.request.body ?? {}) as { response?: unknown; name?: unknown };
  const firstFactor = !hasSecondFactor(await secondFactorsOf(deps.db, user.id));
  const record = await takeChallenge(deps.db, flowOf(ctx), CEREMONY);
  if (!record || record.userId !== user.id) throw new PasskeyRefusedError('challenge');
  const name = typeof body.name === 'string' && body.name.trim() ? body.name : undefined;
  const passkey = await registerPasskey(
    accountChangeContext(ctx, deps),
    relyingParty(deps.config),
    user.id,
    body.response,
    record.challenge,
    {
      name,
    },
  );
  ctx.status = 201;
  ctx.body = {
    passkey: { id: passkey.id, name: passkey.name },
    next: `${SECURITY_PATH}?done=passkey-added`,
    // The first second factor comes with recovery codes: the script asks for them (a POST, so
    // they are made and shown once).
    recoveryCodes: firstFactor && (await recoveryCodesStatus(deps.db, user.id)).remaining === 0 ? RECOVERY_CODES_PATH : undefined,
  };
}

async function rename(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  try {
    await renamePasskey(accountChangeContext(ctx, deps), signedInAccount(ctx).user.id, ctx.params.id, field(ctx, 'name'));
  } catch (error) {
    if (error instanceof InvalidInputError) return backToSecurity(ctx, { problem: 'passkey-name' });
    if (error instanceof NotFoundError) return backToSecurity(ctx);
    throw error;
  }
  backToSecurity(ctx, { done: 'passkey-renamed' });
}

async function remove(ctx: Context, deps: AccountAreaDeps) {
  verifyAccountCsrf(ctx, field(ctx, '_csrf'));
  requireRecentSignIn(ctx);
  try {
    await removePasskey(accountChangeContext(ctx, deps), signedInAccount(ctx).user.id, ctx.params.id);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  backToSecurity(ctx, { done: 'passkey-removed' });
}

export const passkeysPart: SecurityPart = {
  template: 'passkeys',
  async load(ctx, deps) {
    const passkeys = await listPasskeys(deps.db, signedInAccount(ctx).user.id);
    return {
      passkeys: passkeys.map((p) => ({ id: p.id, name: p.name, createdAt: shownDate(p.createdAt), lastUsedAt: shownDate(p.lastUsedAt) })),
      passkeysPath: PASSKEYS_PATH,
      optionsPath: OPTIONS_PATH,
    };
  },
  notices: {
    'passkey-added': 'Your passkey was added. You can use it to sign in.',
    'passkey-renamed': 'Your passkey was renamed.',
    'passkey-removed': 'Your passkey was removed. Remove it from your device or password manager too.',
  },
  problems: { 'passkey-name': 'A passkey name must be 1 to 64 characters, without control characters.' },
  scripts: [WEBAUTHN_BROWSER_PATH, '/static/account-passkeys.js'],
  routes(router, deps) {
    router.post(OPTIONS_PATH, jsonBody, (ctx) => registrationOptions(ctx, deps));
    router.post(PASSKEYS_PATH, jsonBody, (ctx) => addPasskey(ctx, deps));
    router.post(`${PASSKEYS_PATH}/:id/rename`, formBody, (ctx) => rename(ctx, deps));
    router.post(`${PASSKEYS_PATH}/:id/remove`, formBody, (ctx) => remove(ctx, deps));
  },
};
