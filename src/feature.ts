// What a feature module declares, so that adding a feature is one module plus one line in
// features.ts: the paths it answers and its routes (composed by app.ts), and what it sweeps when
// it expires (run by server.ts). Later: its part of a user's data export and erasure.
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from './config.ts';
import type { Database } from './db/index.ts';
import type { SecretBox } from './secrets/secretBox.ts';
import type { ClientStore } from './oidc/clients.ts';
import type { AbuseDefence } from './abuse/index.ts';
import type { Mailer } from './mail/mailer.ts';

/** What a feature's routes may use. */
export interface FeatureDeps {
  config: Config;
  database: Database;
  box: SecretBox;
  clients: ClientStore;
  /** The provider in service right now (it is rebuilt when keys rotate). */
  provider: () => Provider;
  /** Picks up keys rotated in the database at once (instead of at the next periodic look). */
  reloadKeys: () => Promise<boolean>;
  /** Rate limits shared by every feature (and, through their store, by every instance). */
  abuse: AbuseDefence;
  /** Sends queued mail (src/mail): nudge it once the transaction that queued a mail commits. */
  mailer: Mailer;
}

export interface Sweeper {
  /** Names what it deletes, for the log line of a sweep. */
  name: string;
  /** Deletes rows whose time has passed; returns how many. */
  sweep(database: Database): Promise<number>;
}

export interface Feature {
  name: string;
  /**
   * The paths whose requests reach this feature's routes: exact paths, or prefixes written with a
   * trailing '*' ('/static/*').
   * What its routes leave unanswered still reaches oidc-provider (for its 404s and 405s).
   */
  paths?: readonly string[];
  routes?(deps: FeatureDeps): Koa.Middleware;
  /** Runs once when the server starts, before it listens (for example: rows the feature needs). */
  start?(deps: FeatureDeps): Promise<void>;
  sweepers?: readonly Sweeper[];
}

/**
 * Whether a path is one of `paths` (exact, or under a prefix written 'prefix*'). Made once:
 * app.ts asks it on every request, protocol ones included.
 */
export function pathMatcher(paths: readonly string[]): (path: string) => boolean {
  const exact = new Set(paths.filter((p) => !p.endsWith('*')));
  const prefixes = paths.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (path) => exact.has(path) || prefixes.some((prefix) => path.startsWith(prefix));
}
