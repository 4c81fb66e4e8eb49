// Dynamic client registration (RFC 7591) and management (RFC 7592), open only to holders of
// INITIAL_ACCESS_TOKEN. Without it, the endpoint is not offered at all.
import type { Configuration } from 'oidc-provider';
import type { ProviderDeps } from '../deps.ts';
import type { Config } from '../../config.ts';

export const registrationEnabled = (config: Config): boolean => Boolean(config.initialAccessToken);

export function registration({ config }: ProviderDeps): Configuration {
  if (!registrationEnabled(config)) return { features: { registration: { enabled: false } } };
  return {
    features: {
      registration: {
        enabled: true,
        initialAccessToken: config.initialAccessToken,
        // A random client_id that reveals nothing, and a 256-bit secret.
        idFactory: () => `dcr_${crypto.randomUUID().replaceAll('-', '')}`,
        secretFactory: async () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url'),
      },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
    },
  };
}
