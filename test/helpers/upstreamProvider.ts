// A real upstream OpenID Provider for federation tests: a second oidc-provider, on its own port
// at 127.0.0.1 (a different host from Gatehouse's localhost, so the two never share cookies),
// with its development sign-in screens: any login name signs in as that account. The accounts'
// claims are what the test sets in `people`; its cookies have their own names besides.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration } from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';
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
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Claims by login name; change them between sign-ins as a provider's data changes. */
  people: Record<string, UpstreamPerson>;
  /** What the ID token's amr says (empty: none). */
  amr: string[];
  /** Stops answering (as a provider that is down) while true. */
  down: boolean;
  close(): Promise<void>;
}

export async function startUpstreamProvider(redirectUri: string): Promise<UpstreamProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const upstream: UpstreamProvider = {
    issuer,
    clientId: 'gatehouse',
    clientSecret: 'upstream-client-secret-0123456789',
    people: {},
    amr: [],
    down: false,
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
      },
    ],
    claims: { openid: ['sub', 'amr'], email: ['email', 'email_verified'], profile: ['name', 'given_name', 'family_name', 'locale'] },
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
