// A real upstream OpenID Provider for federation tests: a second oidc-provider, on its own port
// at 127.0.0.1 (a different host from Gatehouse's localhost, so the two never share cookies),
// with its development sign-in screens: any login name signs in as that account. The accounts'
// claims are what the test sets in `people`; its cookies have their own names besides.
//
// It can also stand in for a provider with a preset (Microsoft Entra ID, Apple), which this
// machine cannot reach: it then says it is that provider (its issuer), and routeProviderHost
// answers the discovery request Gatehouse sends to the provider's real host from this one. Apple's
// way of authenticating the client (a client secret signed with the team's key) is checked here
// as Apple checks it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import Provider, { type Configuration } from 'oidc-provider';
import { exportJWK, generateKeyPair, jwtVerify } from 'jose';
import type { Browser, Page } from './browserForm.ts';

export interface UpstreamPerson {
  email?: string;
  email_verified?: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  [claim: string]: unknown;
}

export interface UpstreamProvider {
  /** The issuer it says it is (its own address unless it stands in for a provider). */
  issuer: string;
  /** Where it is reached. */
  origin: string;
  clientId: string;
  clientSecret: string;
  /** Claims by login name; change them between sign-ins as a provider's data changes. */
  people: Record<string, UpstreamPerson>;
  /** What the ID token's amr says (empty: none). */
  amr: string[];
  /** Stops answering (as a provider that is down) while true. */
  down: boolean;
  /** With appleKey: for each token request, whether its client secret held. */
  appleSecretsSeen: boolean[];
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** The issuer to say it is (a real provider's, with routeProviderHost), instead of its own address. */
  issuer?: string;
  /** Claims of the openid scope besides sub and amr (Microsoft's tid). */
  openidClaims?: string[];
  /** Apple: the token endpoint takes only a client secret signed with this key, as Apple's does. */
  appleKey?: { publicKey: KeyObject; teamId: string; keyId: string };
  /** Leaves the iss parameter (RFC 9207) out of its redirects back, as Microsoft Entra ID does. */
  noIssParameter?: boolean;
}

export async function startUpstreamProvider(redirectUri: string, options: UpstreamOptions = {}): Promise<UpstreamProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = options.issuer ?? origin;
  const upstream: UpstreamProvider = {
    issuer,
    origin,
    clientId: 'gatehouse',
    clientSecret: 'upstream-client-secret-0123456789',
    people: {},
    amr: [],
    down: false,
    appleSecretsSeen: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const configuration: Configuration = {
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'upstream-1', alg: 'RS256', use: 'sig' }] as never[] },
    clients: [
      {
        client_id: upstream.clientId,
        client_secret: upstream.clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        ...(options.appleKey && { token_endpoint_auth_method: 'client_secret_post' }),
      },
    ],
    claims: {
      openid: ['sub', 'amr', ...(options.openidClaims ?? [])],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'locale'],
    },
    cookies: {
      keys: ['upstream-cookie-key-0123456789'],
      names: { session: 'up_session', interaction: 'up_interaction', resume: 'up_resume' },
    },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    async findAccount(_ctx, id) {
      return { accountId: id, claims: async () => ({ sub: id, ...upstream.people[id] }) };
    },
  };
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (upstream.down) {
      // Accepts the connection and never answers: a provider that hangs.
      return;
    }
    if (options.noIssParameter) withoutIssParameter(res);
    if (options.appleKey && req.method === 'POST' && req.url === '/token') {
      appleClientAuthentication(req, options.appleKey, upstream).then(() => callback(req, res));
      return;
    }
    callback(req, res);
  });
  server.on('connection', (socket) => socket.unref());
  // The development sign-in says nothing of how the person proved it; the test says (amr), as a
  // provider that did or did not ask for a second factor would.
  const interactionResult = provider.interactionResult.bind(provider);
  provider.interactionResult = (req, res, result, options) =>
    interactionResult(
      req,
      res,
      result.login && upstream.amr.length ? { ...result, login: { ...result.login, amr: upstream.amr } } : result,
      options,
    );
  return upstream;
}

/** Takes the iss parameter out of the redirects this response sends. */
function withoutIssParameter(res: ServerResponse): void {
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name, value) => {
    // Only the redirects back to the client are absolute (its own screens are paths).
    if (String(name).toLowerCase() !== 'location' || typeof value !== 'string' || !URL.canParse(value)) return setHeader(name, value);
    const location = new URL(value);
    location.searchParams.delete('iss');
    return setHeader(name, location.href);
  };
}

/**
 * Apple's token endpoint takes as client secret a JWT the client signs with its Sign in with Apple
 * key (ES256; iss the team, sub the client, aud Apple, kid the key). Checked here, then handed to
 * oidc-provider as the registered secret when it holds, or as a wrong one when it does not.
 */
async function appleClientAuthentication(
  req: IncomingMessage & { body?: Record<string, string> },
  key: NonNullable<UpstreamOptions['appleKey']>,
  upstream: UpstreamProvider,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  let valid = false;
  try {
    const { protectedHeader } = await jwtVerify(params.get('client_secret') ?? '', key.publicKey, {
      issuer: key.teamId,
      subject: upstream.clientId,
      audience: 'https://appleid.apple.com',
      algorithms: ['ES256'],
    });
    valid = protectedHeader.kid === key.keyId;
  } catch {
    valid = false;
  }
  upstream.appleSecretsSeen.push(valid);
  params.set('client_secret', valid ? upstream.clientSecret : 'not-the-secret');
  // oidc-provider takes an already read body from req.body.
  req.body = Object.fromEntries(params);
}

/**
 * Answers what Gatehouse asks a provider's real host (`host`, such as https://appleid.apple.com)
 * from the stand-in: the request goes to the stand-in's address, and `discovery` may rewrite the
 * discovery document on the way (Microsoft's multi-tenant issuer template). Everything else is
 * fetched as usual. Returns what undoes it, and the URLs it routed.
 */
export function routeProviderHost(
  host: string,
  upstream: UpstreamProvider,
  discovery: (document: Record<string, unknown>) => Record<string, unknown> = (document) => document,
): { routed: string[]; restore: () => void } {
  const realFetch = globalThis.fetch;
  const routed: string[] = [];
  globalThis.fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== host) return realFetch(input, init);
    routed.push(url.href);
    const answer = await realFetch(`${upstream.origin}/.well-known/openid-configuration`, { headers: init?.headers });
    if (!url.pathname.endsWith('/.well-known/openid-configuration') || !answer.ok) return new Response('not found', { status: 404 });
    return Response.json(discovery((await answer.json()) as Record<string, unknown>));
  };
  return { routed, restore: () => (globalThis.fetch = realFetch) };
}

/**
 * Signs in at the upstream's development screens as `login` and answers what follows (its consent,
 * and the form that ends a session of another account in this browser); returns the page back at
 * Gatehouse.
 */
export async function signInUpstream(browser: Browser, page: Page, login: string): Promise<Page> {
  let current = await browser.submit(page, /\/interaction\/[^/]+$/, { prompt: 'login', login, password: 'any' });
  for (let step = 0; step < 4; step++) {
    if (/name="prompt" value="consent"/.test(current.html))
      current = await browser.submit(current, /\/interaction\/[^/]+$/, { prompt: 'consent' });
    else if (/\/session\/end\/confirm"/.test(current.html)) current = await browser.submit(current, /\/session\/end\/confirm$/, {});
    else break;
  }
  return current;
}
