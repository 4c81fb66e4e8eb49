// The contracts of the interaction pipeline: a step is one prompt (its checks, its screen, its
// form handlers); a sign-in method is one way to prove something (who you are, or a second
// factor), possibly over several requests. The flow knows nothing about any particular step or
// method.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { interactionPolicy, InteractionResults } from 'oidc-provider';
import type { Config } from '../config.ts';
import type { Db } from '../db/index.ts';
import type { AbuseDefence } from '../abuse/index.ts';
import type { AccountDeps, User } from '../accounts/index.ts';

export interface InteractionDeps {
  config: Config;
  db: Db;
  abuse: AbuseDefence;
  /** What the self-service account changes need (mail, password rules, links). */
  accounts: AccountDeps;
  /** The provider in service right now (it is rebuilt when keys rotate). */
  provider: () => Provider;
}

/** What a prompt's checks may read. */
export interface PromptDeps {
  db: Db;
  config: Config;
}

export type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface InteractionStep {
  /** The prompt's name, as oidc-provider reports it in interaction details. */
  name: string;
  /** The checks that decide whether this prompt is needed, in order (they may read the database). */
  prompt(deps: PromptDeps): interactionPolicy.Prompt;
  /** Shows this step's screen for an interaction waiting on it (again, after an error). */
  render(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, screen?: ScreenState): Promise<void>;
  /** Adds this step's form handlers, under /interaction/:uid/<name>. */
  routes(router: Router, deps: InteractionDeps): void;
  /**
   * A method proved something in this interaction: finish the step if that (with what the
   * interaction proved before) satisfies it, or keep it as a verification record and show what
   * is still needed. Steps without methods (consent) leave it out.
   */
  proceed?(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, proof: MethodProof): Promise<void>;
}

/** What a sign-in method proved. */
export interface MethodProof {
  method: string;
  userId: string;
  /** Authentication method references (RFC 8176) of what was proved. */
  amr: string[];
  /** The account as the method read it, so the step need not read it again. */
  user?: User;
}

/** What a screen shows besides the methods: the typed identifier, an error, its status. */
export interface ScreenState {
  identifier?: string;
  /** Something to know before going on (not an error): why this screen is shown again. */
  notice?: string;
  /** The method whose request failed (or "" for the screen itself), with what to say. */
  error?: { method: string; message: string };
  status?: number;
}

/** Where a method's part of a screen goes: the prompt asking, and what the screen knows. */
export interface MethodScreen {
  prompt: 'login' | 'mfa';
  interaction: InteractionDetails;
  /** The account being signed in to, once a first factor named it (the mfa prompt). */
  userId?: string;
  /** The identifier typed so far (kept after an error). */
  identifier: string;
  /** The method whose request failed, with what to say under it. */
  error?: { method: string; message: string };
}

/** A method's part of a prompt's screen: a template under views/methods/ and what it shows. */
export interface MethodFragment {
  template: string;
  locals?: Record<string, unknown>;
  /** Scripts the fragment needs (static files; no inline script). */
  scripts?: string[];
  /**
   * Tokens this method adds to the identifier field's autocomplete (passkey autofill asks for
   * "webauthn"): the field belongs to the screen, not to any one method.
   */
  identifierAutocomplete?: string[];
}

/**
 * One way to prove something in a sign-in: a password, a passkey, an authenticator code. It owns
 * its routes (under /interaction/:uid/<id>/…), its rate limits and its part of the screen; when
 * it has proved something it records it (src/verifications) and hands over to the prompt
 * (`proved` in progress.ts). The prompts know no method's fields.
 */
export interface SignInMethod {
  /** Route segment and verification-record name. */
  id: string;
  /** Offered by the login prompt (says who you are) and/or the mfa prompt (a second factor). */
  offeredBy: readonly ('login' | 'mfa')[];
  /** The amr (RFC 8176) of what it proves at best: the mfa prompt offers it where that reaches the level needed. */
  amr: readonly string[];
  /** Its part of the screen, or undefined when not offered here (to this user, this client). */
  fragment(ctx: Context, screen: MethodScreen, deps: InteractionDeps): Promise<MethodFragment | undefined>;
  routes(router: Router, deps: InteractionDeps): void;
  /**
   * Runs when the login prompt has signed someone in (by any method) in this interaction: a
   * method that was waiting for the account's owner to prove it (an upstream identity to link)
   * finishes here.
   */
  afterSignIn?(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps, user: User): Promise<void>;
  /**
   * Takes over the login prompt's screen when the request itself picked this method (an upstream
   * provider named with connection=): true when it answered the request.
   */
  preempt?(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps): Promise<boolean>;
}

export type { InteractionResults };
