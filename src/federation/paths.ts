// The federation paths providers are given: the one OpenID Connect / OAuth 2.0 redirect URI of
// every connection (register exactly this with the provider).
export const FEDERATION_CALLBACK_PATH = '/federation/oidc/callback';
