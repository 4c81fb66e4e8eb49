// The OpenID provider, assembled from feature modules (each returns a slice of oidc-provider's
// configuration) so a new capability adds a module instead of editing one big file.
import Provider, { type Configuration, type interactionPolicy } from 'oidc-provider';
import type { ProviderDeps } from './deps.ts';
import { UserFacingError } from '../http/errors.ts';
import { knexAdapterFactory } from './adapter.ts';
import { matchesClientSecret } from './clients.ts';
import { protectStoredSecretDigests } from './registrationSecrets.ts';
import { refuseConcurrentReplays } from './singleUse.ts';
import { core } from './features/core.ts';
import { registration } from './features/registration.ts';
import { tokens } from './features/tokens.ts';
import { logout } from './features/logout.ts';
import { deviceFlow } from './features/deviceFlow.ts';
import { resourceIndicators } from './features/resourceIndicators.ts';
import { clientMetadata } from './features/clientMetadata.ts';
import { firstPartyGrants } from './features/firstPartyGrants.ts';
import { federation } from './features/federation.ts';

export type { ProviderDeps } from './deps.ts';

const FEATURE_MODULES: ((deps: ProviderDeps) => Configuration)[] = [
  core,
  clientMetadata,
  tokens,
  registration,
  resourceIndicators,
  logout,
  deviceFlow,
  firstPartyGrants,
  federation,
];

export interface ProviderOptions {
  /** The interaction pipeline's prompts, in order (see src/interactions/pipeline.ts). */
  policy: interactionPolicy.Prompt[];
  interactionUrl: (uid: string) => string;
}

export function createProvider(deps: ProviderDeps, options: ProviderOptions): Provider {
  const configuration = mergeConfigurations(FEATURE_MODULES.map((feature) => feature(deps)));
  configuration.adapter = knexAdapterFactory(deps.db, deps.clients, deps.box);
  configuration.interactions = {
    policy: options.policy,
    url: (_ctx, interaction) => options.interactionUrl(interaction.uid),
  };
  configuration.features = { ...configuration.features, devInteractions: { enabled: false } } as Configuration['features'];

  const provider = new Provider(deps.config.issuer, configuration);
  provider.proxy = deps.config.trustProxy;
  // Secrets we keep as digests are compared as digests; see clients.ts.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, presented: string) {
    return matchesClientSecret(this.clientSecret, presented);
  };
  protectStoredSecretDigests(provider, deps.config);
  refuseConcurrentReplays(provider);
  requireFormPostsOnBrowserEndpoints(provider);
  return provider;
}

// The device-code and logout confirmation forms are posted by browsers. oidc-provider answers a
// body it cannot parse there with a 500 (its session save fails while handling the parse error),
// so what is not a small form is refused up front with a page that says why.
const BROWSER_FORM_ROUTES = new Set(['/device', '/session/end/confirm']);
const MAX_BROWSER_FORM_BYTES = 16 * 1024;
function requireFormPostsOnBrowserEndpoints(provider: Provider) {
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || !BROWSER_FORM_ROUTES.has(ctx.path)) return next();
    if (!ctx.is('application/x-www-form-urlencoded')) {
      throw new UserFacingError(415, 'Unsupported content type', 'Send the form as application/x-www-form-urlencoded.');
    }
    if (ctx.request.length === undefined || ctx.request.length > MAX_BROWSER_FORM_BYTES) {
      throw new UserFacingError(413, 'Request too large', 'What you sent is larger than we accept.');
    }
    try {
      await next();
    } catch (error) {
      // A post without the browser session it belongs to (expired, or never there) fails the
      // anti-CSRF check, and oidc-provider's session save then throws this in its place.
      if (error instanceof TypeError && /persist can only be called on previously persisted/.test(error.message)) {
        throw new UserFacingError(400, 'This form has expired', 'Your session was not found or has expired. Start again on your device.');
      }
      throw error;
    }
  });
}

// Each feature module owns its settings: two modules setting the same one is a mistake that a
// shallow merge would hide (the later would silently win), so it fails at start instead.
function mergeConfigurations(parts: Configuration[]): Configuration {
  const merged: Record<string, unknown> = {};
  const features: Record<string, unknown> = {};
  for (const part of parts) {
    const { features: partFeatures, ...rest } = part;
    for (const [target, entries] of [
      [merged, rest],
      [features, partFeatures ?? {}],
    ] as const) {
      for (const [key, value] of Object.entries(entries)) {
        if (key in target)
          throw new Error(`oidc-provider setting ${target === features ? 'features.' : ''}${key} is set by two feature modules`);
        target[key] = value;
      }
    }
  }
  return { ...merged, features } as Configuration;
}
