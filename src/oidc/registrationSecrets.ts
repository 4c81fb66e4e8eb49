// Client registration management (RFC 7592) with secrets stored as digests (see clients.ts).
// oidc-provider hands the stored value around as if it were the secret, so three places need care:
// - read and update responses must not show the digest as `client_secret`;
// - an update may carry the client's real secret, which oidc-provider compares with the stored
//   value: when it matches the digest, oidc-provider is handed the digest instead;
// - an update may switch the client to a symmetric use of its secret (client_secret_jwt, HS*),
//   which needs the plain secret we do not have: refused, the client registers anew.
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import { HASHED_SECRET_PREFIX, matchesClientSecret, needsPlainSecret } from './clients.ts';

const MAX_REGISTRATION_BODY = 64 * 1024;

export function protectStoredSecretDigests(provider: Provider): void {
  provider.use(async (ctx, next) => {
    if (ctx.method === 'PUT' && ctx.path.startsWith('/reg/') && ctx.is('application/json')) {
      const refusal = await rewriteUpdateBody(provider, ctx);
      if (refusal) {
        ctx.status = 400;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = refusal;
        return;
      }
    }
    await next();
    const body = ctx.body as { client_secret?: unknown } | undefined;
    const route = ctx.oidc?.route;
    if (
      (route === 'client' || route === 'client_update') &&
      typeof body?.client_secret === 'string' &&
      body.client_secret.startsWith(HASHED_SECRET_PREFIX)
    ) {
      delete body.client_secret;
    }
  });
}

type Refusal = { error: string; error_description: string };

async function rewriteUpdateBody(provider: Provider, ctx: Koa.Context): Promise<Refusal | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REGISTRATION_BODY) return { error: 'invalid_request', error_description: 'request entity too large' };
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  // oidc-provider reads an already consumed body from ctx.request.body; a body we cannot parse is
  // passed on as it came, so the provider reports it in its own words.
  (ctx.request as { body?: unknown }).body = raw;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!body || typeof body !== 'object' || typeof body.client_id !== 'string') return undefined;
  const stored = (await provider.Client.find(body.client_id))?.clientSecret;
  if (!stored?.startsWith(HASHED_SECRET_PREFIX)) return undefined;
  if (needsPlainSecret(body)) {
    return {
      error: 'invalid_client_metadata',
      error_description:
        'this client cannot switch to a symmetric use of its secret (client_secret_jwt, HS* or symmetric encryption); register a new client',
    };
  }
  if (typeof body.client_secret === 'string' && matchesClientSecret(stored, body.client_secret)) body.client_secret = stored;
  (ctx.request as { body?: unknown }).body = body;
  return undefined;
}
