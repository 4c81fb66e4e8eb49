// Validates client metadata with oidc-provider's own rules, so a client registered from the CLI
// is exactly what the provider would accept through registration, then the APIs it names against
// the database, as the client store does for dynamic registration. Reads keys, never creates them.
import type { ClientMetadata } from 'oidc-provider';
import type { ProviderDeps } from './deps.ts';
import { createProvider } from './index.ts';
import { ephemeralKeys, loadKeys } from './keys.ts';
import { apiReferenceProblem } from './clients.ts';
import { interactionPrompts, interactionUrl } from '../interactions/index.ts';

export class InvalidClientMetadataError extends Error {
  constructor(description: string) {
    super(`Invalid client: ${description}`);
    this.name = 'InvalidClientMetadataError';
  }
}

export async function validateClientMetadata(deps: Omit<ProviderDeps, 'keys'>, metadata: ClientMetadata): Promise<void> {
  const stored = await loadKeys(deps.db, deps.box);
  const keys = stored.signing.length ? stored : await ephemeralKeys();
  const provider = createProvider({ ...deps, keys }, { policy: interactionPrompts(deps), interactionUrl });
  try {
    await provider.Client.validate(metadata);
  } catch (error) {
    const e = error as { error_description?: string; message: string };
    throw new InvalidClientMetadataError(e.error_description ?? e.message);
  }
  const problem = await apiReferenceProblem(deps.db, metadata);
  if (problem) throw new InvalidClientMetadataError(problem);
}
