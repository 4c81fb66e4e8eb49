// The interaction pipeline on one screen: every prompt, in the order oidc-provider checks them.
// A new prompt (mfa, profile, terms) is one more module and one more line here.
//
//   step       decides by (checks, in order)                                  screen
//   login      no session · max_age · prompt=login · id_token_hint · acr      sign in (strategies)
//   consent    prompt=consent · scopes missing · claims missing · API scopes  allow / deny
import type { InteractionStep } from './types.ts';
import { loginStep } from './login/index.ts';
import { consentStep } from './consent/index.ts';

export const PIPELINE: InteractionStep[] = [loginStep, consentStep];

export const interactionPrompts = () => PIPELINE.map((step) => step.prompt);
