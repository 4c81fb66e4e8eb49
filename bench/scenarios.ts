// The six scenarios: what each request is, and what a correct answer looks like (checked on a
// sample before a scenario is measured, so a fast stream of errors is never reported as speed).
import { APIS, CLIENT_ID } from './fixtures.ts';

export interface ServerUnderTest {
  url: string;
  issuer: string;
  clientSecret: string;
}

export interface ScenarioRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  /** A fixed body, or a new one per request (refresh tokens are single-use). */
  body?: string | (() => string);
}

export interface Scenario {
  name: ScenarioName;
  /** Scenarios that consume a refresh token per request. */
  consumesRefreshTokens?: boolean;
  request(server: ServerUnderTest, nextRefreshToken: () => string): ScenarioRequest;
  /** Throws, saying what is wrong, unless `body` is the expected answer. */
  check(body: Record<string, unknown>, server: ServerUnderTest, sent: string | undefined): void;
}

export const SCENARIO_NAMES = [
  'discovery',
  'jwks',
  'client_credentials_opaque',
  'client_credentials_jwt_es256',
  'client_credentials_jwt_rs256',
  'refresh_token',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

// Clients address the issuer (http://localhost:PORT) while we connect to 127.0.0.1; endpoint URLs
// in discovery are built from the Host header, so send the issuer's.
const host = (server: ServerUnderTest) => new URL(server.issuer).host;

// RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined.
const basicAuth = (server: ServerUnderTest) =>
  `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(server.clientSecret)}`).toString('base64')}`;

const tokenRequest = (server: ServerUnderTest, body: ScenarioRequest['body']): ScenarioRequest => ({
  method: 'POST',
  path: '/token',
  headers: {
    host: host(server),
    authorization: basicAuth(server),
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  },
  body,
});

function jwtParts(token: unknown): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  expect(typeof token === 'string' && token.split('.').length === 3, `expected a JWT, got ${String(token).slice(0, 40)}`);
  const [header, payload] = token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>);
  return { header, payload };
}

function clientCredentials(name: ScenarioName, api: (typeof APIS)[keyof typeof APIS]): Scenario {
  const body = new URLSearchParams({ grant_type: 'client_credentials', resource: api.identifier }).toString();
  return {
    name,
    request: (server) => tokenRequest(server, body),
    check(answer, server) {
      expect(answer.token_type === 'Bearer', `token_type is ${String(answer.token_type)}`);
      expect(typeof answer.expires_in === 'number', 'no expires_in');
      if (api.accessTokenFormat === 'opaque') {
        expect(typeof answer.access_token === 'string' && /^[\w-]{20,}$/.test(answer.access_token), 'access_token is not an opaque token');
        return;
      }
      const { header, payload } = jwtParts(answer.access_token);
      expect(header.alg === api.signingAlg, `JWT alg is ${String(header.alg)}, expected ${api.signingAlg}`);
      expect(payload.aud === api.identifier, `JWT aud is ${String(payload.aud)}`);
      expect(payload.iss === server.issuer, `JWT iss is ${String(payload.iss)}`);
      expect(payload.client_id === CLIENT_ID, `JWT client_id is ${String(payload.client_id)}`);
    },
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'discovery',
    request: (server) => ({
      method: 'GET',
      path: '/.well-known/openid-configuration',
      headers: { host: host(server), accept: 'application/json' },
    }),
    check(answer, server) {
      expect(answer.issuer === server.issuer, `issuer is ${String(answer.issuer)}`);
      expect(answer.token_endpoint === `${server.issuer}/token`, `token_endpoint is ${String(answer.token_endpoint)}`);
      expect(answer.jwks_uri === `${server.issuer}/jwks`, `jwks_uri is ${String(answer.jwks_uri)}`);
    },
  },
  {
    name: 'jwks',
    request: (server) => ({ method: 'GET', path: '/jwks', headers: { host: host(server), accept: 'application/json' } }),
    check(answer) {
      const keys = answer.keys as Record<string, unknown>[];
      expect(Array.isArray(keys), 'no keys');
      const algs = keys.map((k) => k.alg).sort();
      expect(algs.join() === 'ES256,RS256', `key algorithms are ${algs.join()}, expected ES256,RS256`);
      expect(
        keys.every((k) => k.d === undefined),
        'a private key part is published',
      );
    },
  },
  clientCredentials('client_credentials_opaque', APIS.opaque),
  clientCredentials('client_credentials_jwt_es256', APIS.es256),
  clientCredentials('client_credentials_jwt_rs256', APIS.rs256),
  {
    name: 'refresh_token',
    consumesRefreshTokens: true,
    request: (server, nextRefreshToken) =>
      tokenRequest(server, () => new URLSearchParams({ grant_type: 'refresh_token', refresh_token: nextRefreshToken() }).toString()),
    check(answer, server, sent) {
      expect(answer.token_type === 'Bearer', `token_type is ${String(answer.token_type)}`);
      expect(typeof answer.access_token === 'string', 'no access_token');
      expect(
        typeof answer.refresh_token === 'string' && answer.refresh_token !== new URLSearchParams(sent).get('refresh_token'),
        'the refresh token was not rotated',
      );
      const { header, payload } = jwtParts(answer.id_token);
      expect(header.alg === 'RS256', `ID token alg is ${String(header.alg)}`);
      expect(payload.iss === server.issuer && payload.aud === CLIENT_ID, 'ID token iss/aud are wrong');
    },
  },
];
