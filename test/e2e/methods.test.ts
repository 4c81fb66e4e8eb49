// Every endpoint, ours and oidc-provider's, asked with every method: the methods it serves get
// its own answer (here: to a request without credentials or parameters), OPTIONS gets 204 with
// `Allow`, and every other method 405 with `Allow`, in the endpoint's dialect. Never a 5xx.
// (A GET on /device/auth used to reach the device-flow page route /device/:uid and answer 500.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { rawRequest, type Answer } from '../helpers/rawHttp.ts';

const send = (base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> =>
  rawRequest(`${base}${path}`, method, headers);

type Dialect = 'protocol' | 'ours';

/** One endpoint: its Allow header, who renders its errors, and its answer to each method it serves. */
interface Row {
  path: string;
  allow: string;
  dialect: Dialect;
  serves: Record<string, number>;
}

const ours = (path: string, allow: string, serves: Record<string, number>): Row => ({ path, allow, dialect: 'ours', serves });
const protocol = (path: string, allow: string, serves: Record<string, number>): Row => ({ path, allow, dialect: 'protocol', serves });

// The answers to the methods served are those of a bare request: no session, no client, no token.
const ENDPOINTS: Row[] = [
  // path, its Allow header, and its answer to each method it serves
  ours('/', 'GET, HEAD, OPTIONS', { GET: 200, HEAD: 200 }),
  ours('/healthz', 'GET, HEAD, OPTIONS', { GET: 200, HEAD: 200 }),
  ours('/readyz', 'GET, HEAD, OPTIONS', { GET: 200, HEAD: 200 }),
  ours('/static/gatehouse.css', 'GET, HEAD, OPTIONS', { GET: 200, HEAD: 200 }),
  ours('/interaction/some-uid', 'GET, HEAD, OPTIONS', { GET: 400, HEAD: 400 }),
  ours('/interaction/some-uid/password', 'POST, OPTIONS', { POST: 415 }),
  ours('/interaction/some-uid/consent', 'POST, OPTIONS', { POST: 415 }),
  ours('/interaction/some-uid/abort', 'POST, OPTIONS', { POST: 415 }),
  protocol('/.well-known/openid-configuration', 'GET, HEAD, OPTIONS', { GET: 200, HEAD: 200 }),
  protocol('/.well-known/oauth-authorization-server', 'GET, HEAD, OPTIONS', { GET: 200, HEAD: 200 }),
  protocol('/jwks', 'GET, HEAD, OPTIONS', { GET: 200, HEAD: 200 }),
  protocol('/auth', 'GET, HEAD, OPTIONS', { GET: 400, HEAD: 400 }),
  protocol('/auth/some-uid', 'GET, HEAD, OPTIONS', { GET: 400, HEAD: 400 }),
  protocol('/token', 'POST, OPTIONS', { POST: 400 }),
  protocol('/me', 'GET, HEAD, POST, OPTIONS', { GET: 401, HEAD: 401, POST: 401 }),
  protocol('/token/introspection', 'POST, OPTIONS', { POST: 400 }),
  protocol('/token/revocation', 'POST, OPTIONS', { POST: 400 }),
  protocol('/request', 'POST, OPTIONS', { POST: 400 }),
  protocol('/device/auth', 'POST, OPTIONS', { POST: 400 }),
  protocol('/device', 'GET, HEAD, POST, OPTIONS', { GET: 200, HEAD: 200, POST: 415 }),
  protocol('/device/some-uid', 'GET, HEAD, OPTIONS', { GET: 400, HEAD: 400 }),
  protocol('/session/end', 'GET, HEAD, OPTIONS', { GET: 200, HEAD: 200 }),
  protocol('/session/end/confirm', 'POST, OPTIONS', { POST: 415 }),
  protocol('/session/end/success', 'GET, HEAD, OPTIONS', { GET: 200, HEAD: 200 }),
  protocol('/reg', 'POST, OPTIONS', { POST: 401 }),
  protocol('/reg/some-client', 'GET, HEAD, PUT, DELETE, OPTIONS', { GET: 401, HEAD: 401, PUT: 401, DELETE: 401 }),
];

// PROPFIND: a method Node parses but nothing here serves.
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND'];

function assertRefused(answer: Answer, row: Row, method: string) {
  const where = `${method} ${row.path}`;
  assert.equal(answer.status, 405, where);
  assert.equal(answer.headers.allow, row.allow, where);
  if (method === 'HEAD') return assert.equal(answer.body, '', where);
  if (row.dialect === 'protocol') {
    const use = row.allow
      .split(', ')
      .filter((m) => m !== 'HEAD' && m !== 'OPTIONS')
      .join(' or ');
    assert.deepEqual(
      JSON.parse(answer.body),
      { error: 'invalid_request', error_description: `${method} is not allowed here; use ${use}` },
      where,
    );
    return;
  }
  assert.equal(answer.headers['content-type'], 'application/problem+json', where);
  const problem = JSON.parse(answer.body);
  assert.deepEqual(
    { title: problem.title, status: problem.status, detail: problem.detail },
    { title: 'Method not allowed', status: 405, detail: `This address does not accept ${method} requests.` },
    where,
  );
}

describe('methods', () => {
  let database: TestDatabase;
  let server: TestServer;
  let withoutRegistration: TestServer;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { INITIAL_ACCESS_TOKEN: 'initial-access-token-for-methods' });
    withoutRegistration = await startTestServer(database);
  });

  after(async () => {
    await server?.close();
    await withoutRegistration?.close();
    await database?.dispose();
  });

  for (const row of ENDPOINTS) {
    it(`${row.path}: ${Object.keys(row.serves).join(' ')} served, OPTIONS answered, the rest 405`, async () => {
      for (const method of METHODS) {
        const answer = await send(server.url, method, row.path);
        assert.ok(answer.status < 500, `${method} ${row.path} answered ${answer.status}`);
        if (method in row.serves) assert.equal(answer.status, row.serves[method], `${method} ${row.path}`);
        else if (method === 'OPTIONS') {
          assert.equal(answer.status, 204, `OPTIONS ${row.path}`);
          assert.equal(answer.headers.allow, row.allow, `OPTIONS ${row.path}`);
        } else assertRefused(answer, row, method);
      }
    });
  }

  it('refuses a method Node does not know with 400 before it reaches us', async () => {
    for (const row of ENDPOINTS) assert.equal((await send(server.url, 'FROB', row.path)).status, 400, row.path);
  });

  it('compares paths as oidc-provider routes them: any case, one trailing slash', async () => {
    const answer = await send(server.url, 'GET', '/Token/');
    assert.equal(answer.status, 405);
    assert.equal(answer.headers.allow, 'POST, OPTIONS');
    assert.equal((await send(server.url, 'POST', '/Token/')).status, 400);
  });

  it('shows browsers the error page', async () => {
    for (const path of ['/token', '/interaction/some-uid/password']) {
      const answer = await send(server.url, 'GET', path, { accept: 'text/html' });
      assert.equal(answer.status, 405, path);
      assert.match(answer.headers['content-type'] as string, /^text\/html/, path);
      assert.match(answer.body, /This address does not accept GET requests\./, path);
    }
  });

  it('leaves CORS preflights to oidc-provider where it answers them', async () => {
    const preflight = { origin: 'https://app.example', 'access-control-request-method': 'POST' };
    const token = await send(server.url, 'OPTIONS', '/token', preflight);
    assert.equal(token.status, 204);
    assert.equal(token.headers['access-control-allow-methods'], 'POST');
    assert.equal(token.headers['access-control-allow-origin'], 'https://app.example');
    // Browser pages offer no CORS: the preflight learns the methods and nothing else.
    const auth = await send(server.url, 'OPTIONS', '/auth', preflight);
    assert.equal(auth.status, 204);
    assert.equal(auth.headers.allow, 'GET, HEAD, OPTIONS');
    assert.equal(auth.headers['access-control-allow-origin'], undefined);
  });

  it('has no registration endpoints when registration is off: 404 for every method', async () => {
    for (const path of ['/reg', '/reg/some-client']) {
      for (const method of METHODS) assert.equal((await send(withoutRegistration.url, method, path)).status, 404, `${method} ${path}`);
    }
  });

  it('answers unknown paths 404 whatever the method', async () => {
    for (const path of ['/nope', '/interaction/some-uid/nope', '/device/some-uid/nope']) {
      for (const method of METHODS) assert.equal((await send(server.url, method, path)).status, 404, `${method} ${path}`);
    }
  });
});
