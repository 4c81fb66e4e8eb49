// The contracts of the account area: what its routes are given, and what a section of it is.
import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Config } from '../config.ts';
import type { Db } from '../db/index.ts';
import type { SecretBox } from '../secrets/secretBox.ts';

export interface AccountAreaDeps {
  config: Config;
  db: Db;
  box: SecretBox;
  /** The provider in service right now (it is rebuilt when keys rotate). */
  provider: () => Provider;
}

/**
 * A page of the account area with its place in the navigation. Adding one (Profile, Sessions,
 * Connected apps, Data) is one entry in sections.ts, its module and its view.
 */
export interface AccountSection {
  /** Its name in the navigation and its page's title. */
  label: string;
  /** Its page; its forms post to paths under it. */
  path: string;
  /** What the overview says is there. */
  summary?: string;
  /** Its page and form handlers. They run signed in: ctx.state.account is set. */
  routes(router: Router, deps: AccountAreaDeps): void;
}
