import type { Config } from '../config.ts';
import type { Db } from '../db/index.ts';
import type { SecretBox } from '../secrets/secretBox.ts';
import type { ClientStore } from './clients.ts';
import type { KeyMaterial } from './keys.ts';

/** What the provider configuration is assembled from. */
export interface ProviderDeps {
  config: Config;
  db: Db;
  box: SecretBox;
  keys: KeyMaterial;
  clients: ClientStore;
}
