// Every column that holds values sealed with SECRET_KEY, one line each. `secrets rotate` re-seals
// what these hold and the start-up check opens it; a feature that seals a new kind of secret
// (TOTP seeds, upstream client secrets) declares its column beside its code and adds it here.
import type { SealContext } from './secretBox.ts';
import { SEALED_KEY_SECRETS } from '../oidc/keys.ts';
import { SEALED_CLIENT_SECRETS } from '../oidc/clients.ts';
import { SEALED_MAIL_PAYLOADS } from '../mail/queue.ts';
import { SEALED_TOTP_SECRETS } from '../mfa/totp.ts';
import { SEALED_CONNECTION_SECRETS } from '../federation/connections.ts';

export interface SealedColumn {
  table: string;
  /** The primary key column: the row id the sealed value is bound to. */
  idColumn: string;
  column: string;
  /** Further columns `context` reads. */
  extraColumns?: string[];
  /** When set, only values with this prefix are sealed (the rest are digests), stored as prefix + sealed. */
  prefix?: string;
  context(row: Record<string, string>): SealContext;
}

export const SEALED_COLUMNS: readonly SealedColumn[] = [
  SEALED_KEY_SECRETS,
  SEALED_CLIENT_SECRETS,
  SEALED_MAIL_PAYLOADS,
  SEALED_TOTP_SECRETS,
  SEALED_CONNECTION_SECRETS,
];
