// The contracts of the interaction pipeline: a step is one prompt (its checks, its screen, its
// form handlers); a login strategy is one way to prove who you are. The flow knows nothing about
// any particular step or strategy.
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

export type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface InteractionStep {
  /** The prompt's name, as oidc-provider reports it in interaction details. */
  name: string;
  /** The checks that decide whether this prompt is needed, in order. */
  prompt: interactionPolicy.Prompt;
  /** Shows this step's screen for an interaction waiting on it. */
  render(ctx: Context, interaction: InteractionDetails, deps: InteractionDeps): Promise<void>;
  /** Adds this step's form handlers, under /interaction/:uid/<name>. */
  routes(router: Router, deps: InteractionDeps): void;
}

export interface AuthenticatedAccount {
  accountId: string;
  /** Authentication method references (RFC 8176), e.g. ["pwd"]. */
  amr: string[];
  /** The account as the method read it (as it is now stored), so the step need not read it again. */
  user?: User;
}

export type StrategyOutcome =
  | { ok: true; account: AuthenticatedAccount }
  /**
   * `accountId`: whose account the attempt was on, when there is one (for the audit record only:
   * the screen says the same either way); `reason` names why, for the same record.
   */
  | { ok: false; status: number; message: string; accountId?: string; reason?: string };

export interface LoginStrategy {
  /** The value of the form's `method` field that selects this strategy. */
  id: string;
  authenticate(ctx: Context, form: Record<string, unknown>, deps: InteractionDeps): Promise<StrategyOutcome>;
}

export type { InteractionResults };
