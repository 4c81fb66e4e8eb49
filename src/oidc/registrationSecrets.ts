// Client registration management (RFC 7592) with secrets stored as digests (see clients.ts).
// oidc-provider hands the stored value around as if it were the secret, so three places need care:
// - read and update responses must not show the digest as `client_secret`;
// - an update may carry the client's real secret, which oidc-provider compares with the stored
//   value: when it matches the digest, oidc-provider is handed the digest instead;
// - an update may switch the client to a symmetric use of its secret (client_secret_jwt, HS*),
//   which needs the plain secret we do not have: the client store refuses it (clients.ts).
// Registration responses also show the client's API scopes back in `scope` (see clientMetadata.ts).
//
// The update body has to be read before oidc-provider does, so that read is guarded: nothing runs
// when registration is off; nothing is read and no client looked up until the request carries
// this client's registration access token (anyone else is left to oidc-provider, which refuses
// before reading a body, and learns nothing about which clients exist); a body declared too large
// is refused unread (Node then discards it and the connection stays usable); and a chunked body
// that turns out too large is refused with the connection closed, because a half-read body left
// on a kept-alive connection would stall the next request on it.
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config.ts';
import { HASHED_SECRET_PREFIX, matchesClientSecret } from './clients.ts';
import { registrationEnabled } from './features/registration.ts';
import { API_SCOPE, joinScope } from './features/clientMetadata.ts';

const MAX_REGISTRATION_BODY = 64 * 1024;
const REGISTRATION_ROUTES = new Set(['registration', 'client', 'client_update']);

type Refusal = { error: string; error_description: string };
const TOO_LARGE: Refusal = { error: 'invalid_request', error_description: 'request entity too large' };
const UNREADABLE: Refusal = { error: 'invalid_request', error_description: 'failed to parse the request body' };

export function protectStoredSecretDigests(provider: Provider, config: Config): void {
  if (!registrationEnabled(config)) return;
  provider.use(async (ctx, next) => {
    const clientId = updatedClientId(ctx);
    if (clientId !== undefined && (await holdsRegistrationAccessToken(provider, ctx, clientId))) {
      const outcome = await rewriteUpdateBody(provider, ctx, clientId);
      if (outcome) {
        ctx.status = 400;
        ctx.set('Cache-Control', 'no-store');
        if (outcome.closeConnection) ctx.set('Connection', 'close');
        ctx.body = outcome.refusal;
        return;
      }
    }
    await next();
    if (REGISTRATION_ROUTES.has(ctx.oidc?.route ?? '')) showRegisteredMetadata(ctx.body);
  });
}

// As oidc-provider's router matches it: any case, and one trailing slash (`/REG/x/` is `/reg/x`).
const CLIENT_UPDATE_PATH = /^\/reg\/([^/]+)\/?$/i;

/** The client id of an RFC 7592 update request (`PUT /reg/:clientId` with a JSON body). */
function updatedClientId(ctx: Koa.Context): string | undefined {
  if (ctx.method !== 'PUT' || !ctx.is('application/json')) return undefined;
  const segment = CLIENT_UPDATE_PATH.exec(ctx.path)?.[1];
  if (!segment) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

// The same check oidc-provider makes before it reads anything: a Bearer token that is this
// client's registration access token. Anything else is for oidc-provider to refuse.
async function holdsRegistrationAccessToken(provider: Provider, ctx: Koa.Context, clientId: string): Promise<boolean> {
  const parts = (ctx.get('authorization') || '').split(' ');
  if (parts.length !== 2 || parts[0].toLowerCase() !== 'bearer' || !parts[1]) return false;
  const token = await provider.RegistrationAccessToken.find(parts[1]);
  return token?.clientId === clientId;
}

type Outcome = { refusal: Refusal; closeConnection: boolean } | undefined;

async function readBody(ctx: Koa.Context): Promise<{ raw: string } | NonNullable<Outcome>> {
  const declared = ctx.request.length;
  if (declared !== undefined && declared > MAX_REGISTRATION_BODY) return { refusal: TOO_LARGE, closeConnection: false };
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Not destroyed when we stop early: the connection is closed after the answer instead.
    for await (const chunk of ctx.req.iterator({ destroyOnReturn: false })) {
      size += (chunk as Buffer).length;
      if (size > MAX_REGISTRATION_BODY) return { refusal: TOO_LARGE, closeConnection: true };
      chunks.push(chunk as Buffer);
    }
  } catch {
    return { refusal: UNREADABLE, closeConnection: true };
  }
  return { raw: Buffer.concat(chunks).toString('utf8') };
}

async function rewriteUpdateBody(provider: Provider, ctx: Koa.Context, clientId: string): Promise<Outcome> {
  const read = await readBody(ctx);
  if (!('raw' in read)) return read;
  // oidc-provider reads an already consumed body from ctx.request.body; a body we cannot parse is
  // passed on as it came, so the provider reports it in its own words.
  (ctx.request as { body?: unknown }).body = read.raw;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(read.raw);
  } catch {
    return undefined;
  }
  if (!body || typeof body !== 'object') return undefined;
  const stored = (await provider.Client.find(clientId))?.clientSecret;
  if (!stored?.startsWith(HASHED_SECRET_PREFIX)) return undefined;
  // A switch to a symmetric use of the secret is refused by the client store, whatever the path.
  if (typeof body.client_secret === 'string' && matchesClientSecret(stored, body.client_secret)) body.client_secret = stored;
  (ctx.request as { body?: unknown }).body = body;
  return undefined;
}

function showRegisteredMetadata(body: unknown): void {
  if (!body || typeof body !== 'object') return;
  const metadata = body as Record<string, unknown>;
  if (typeof metadata.client_secret === 'string' && metadata.client_secret.startsWith(HASHED_SECRET_PREFIX)) delete metadata.client_secret;
  if (API_SCOPE in metadata) {
    const scope = joinScope(metadata.scope, metadata[API_SCOPE]);
    delete metadata[API_SCOPE];
    if (scope) metadata.scope = scope;
  }
}
