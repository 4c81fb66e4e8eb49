// The interaction pipeline on one screen: every prompt, in the order oidc-provider checks them.
// A new prompt (mfa, profile, terms) is one more module and one more line here.
//
//   step       decides by (checks, in order)                                  screen
//   login      no session · max_age · prompt=login · id_token_hint ·          sign in (methods)
//              email not verified (for a client that requires it)
//   mfa        acr asked above the session's · client requires mfa ·          a second factor
//              the account holds a second factor and an adaptive rule trips   (methods)
//              or the relying party forces re-authentication
//   identity_  an upstream identity waits to be linked to the account its owner    link it? (yes /
//   link       just signed in to (every factor done)                             not now)
//   terms      a mandatory document not accepted at its current version ·      accept / decline
//              an optional document or ask_at_sign_in purpose never answered   (+ opt-in purposes)
//              at its current version (not for prompt=none)
//   profile    the profile schema asks for attributes this sign-in needs and    a few more details
//              the profile lacks (or holds, due to be confirmed again)         (skip optional ones)
//   passkey_   no passkey yet, on a device that can make one, not offered      add a passkey
//   offer      in the last 30 days                                             (skippable)
//   consent    prompt=consent · scopes missing · claims missing · API scopes  allow / deny
import type { InteractionStep, PromptDeps } from './types.ts';
import { loginStep } from './login/index.ts';
import { mfaStep } from './mfa/index.ts';
import { identityLinkStep } from './identityLink/index.ts';
import { termsStep } from './terms/index.ts';
import { profileStep } from './profile/index.ts';
import { passkeyOfferStep } from './passkeyOffer/index.ts';
import { consentStep } from './consent/index.ts';

export const PIPELINE: InteractionStep[] = [loginStep, mfaStep, identityLinkStep, termsStep, profileStep, passkeyOfferStep, consentStep];

export const interactionPrompts = (deps: PromptDeps) => PIPELINE.map((step) => step.prompt(deps));
