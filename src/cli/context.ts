// What a CLI command runs against: the database plus what the provider needs, built the same way
// whether the command runs in its own process or inside the running server (adminSocket.ts).
import type { Config } from '../config.ts';
import type { Database } from '../db/index.ts';
import { createSecretBox, type SecretBox } from '../secrets/secretBox.ts';
import { createClientStore, type ClientStore } from '../oidc/clients.ts';
import { cliContext, type ServiceContext } from '../changes/index.ts';
import type { ClientDeps } from '../clients/index.ts';

export interface CommandContext {
  config: Config;
  database: Database;
  box: SecretBox;
  clients: ClientStore;
  /** Asks the running server to pick up new keys at once (set when running inside it). */
  afterKeyRotation?: () => Promise<unknown>;
  /** Changes made from the CLI: actor `cli`, source the issuer. */
  service: ServiceContext;
  /** What the client services need. */
  clientDeps: ClientDeps;
}

export function commandContext(config: Config, database: Database, afterKeyRotation?: () => Promise<unknown>): CommandContext {
  const box = createSecretBox(config.secretKey, config.previousSecretKeys);
  const clients = createClientStore(database.db, box);
  return {
    config,
    database,
    box,
    clients,
    afterKeyRotation,
    service: cliContext(database.db, config.issuer),
    clientDeps: { config, box, clients },
  };
}

/** A mistake in what the operator typed: printed as is, exit code 1. */
export class CommandError extends Error {
  readonly problems: string[];
  constructor(message: string, problems: string[] = []) {
    super(message);
    this.name = 'CommandError';
    this.problems = problems;
  }
}
