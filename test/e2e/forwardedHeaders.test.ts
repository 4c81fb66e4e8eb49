// In production (behind a TLS-terminating proxy) the scheme and host a request was made for come
// from X-Forwarded-Proto / X-Forwarded-Host (else Host). A request whose forwarded scheme or host,
// any entry of a list, is not the issuer's is refused with 421: it would otherwise shape the URLs
// discovery advertises and strip Secure from cookies (`X-Forwarded-Proto: http, https` did both).
// Health checks keep answering plain http on any host, for the container's HEALTHCHECK.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { rawRequest, type Answer } from '../helpers/rawHttp.ts';
import { createClient } from '../helpers/fixtures.ts';
import { RP_REDIRECT } from '../helpers/relyingParty.ts';

const ISSUER = 'https://id.example.test';
// What the proxy sends for a proper request.
const PROXIED = { host: 'id.example.test', 'x-forwarded-proto': 'https' };

describe('forwarded scheme and host in production', () => {
  let database: TestDatabase;
  let server: TestServer;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { NODE_ENV: 'production', ISSUER, TRUST_PROXY: 'true' });
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  // Host is a header like any other here: fetch would not let us set it.
  const get = (path: string, headers: Record<string, string>) => rawRequest(`${server.url}${path}`, 'GET', headers);

  const assertMisdirected = (answer: Answer, detail: string, what: string) => {
    assert.equal(answer.status, 421, what);
    assert.equal(answer.headers['content-type'], 'application/problem+json', what);
    const problem = JSON.parse(answer.body);
    assert.deepEqual(
      { title: problem.title, status: problem.status, detail: problem.detail },
      { title: 'Misdirected request', status: 421, detail },
      what,
    );
  };

  it('serves the issuer over https, with https URLs', async () => {
    const discovery = await get('/.well-known/openid-configuration', PROXIED);
    assert.equal(discovery.status, 200);
    const metadata = JSON.parse(discovery.body);
    assert.equal(metadata.issuer, ISSUER);
    assert.equal(metadata.token_endpoint, `${ISSUER}/token`);
    assert.equal(metadata.jwks_uri, `${ISSUER}/jwks`);
  });

  it('refuses a forwarded scheme that is not https, in any entry of the list, or none', async () => {
    for (const proto of ['http, https', 'https, http', 'http', 'https,', 'HTTPS, ftp', 'wss']) {
      assertMisdirected(
        await get('/.well-known/openid-configuration', { ...PROXIED, 'x-forwarded-proto': proto }),
        'This server answers https requests only.',
        proto,
      );
    }
    const direct = await get('/.well-known/openid-configuration', { host: 'id.example.test' });
    assertMisdirected(direct, 'This server answers https requests only.', 'no X-Forwarded-Proto');
    // The case of a scheme does not matter.
    assert.equal((await get('/jwks', { ...PROXIED, 'x-forwarded-proto': 'HTTPS, https' })).status, 200);
  });

  it('refuses a forwarded host that is not the issuer’s, in any entry of the list', async () => {
    const detail = 'This server answers for id.example.test only.';
    for (const forwarded of [
      'evil.example',
      'id.example.test, evil.example',
      'evil.example, id.example.test',
      'id.example.test:8443',
      'user@id.example.test',
      '',
    ]) {
      const headers: Record<string, string> = { ...PROXIED, 'x-forwarded-host': forwarded };
      if (forwarded === '') headers.host = 'evil.example'; // no X-Forwarded-Host: Host counts
      assertMisdirected(await get('/jwks', headers), detail, forwarded || 'Host evil.example');
    }
  });

  it('takes the forwarded host over Host, which may name the upstream, and the default port as no port', async () => {
    const accepted: Record<string, string>[] = [
      { host: 'gatehouse:3000', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.test' },
      { host: 'gatehouse:3000', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'ID.Example.Test:443' },
      { host: 'id.example.test:443', 'x-forwarded-proto': 'https' },
    ];
    for (const headers of accepted) {
      const discovery = await get('/.well-known/openid-configuration', headers);
      assert.equal(discovery.status, 200, JSON.stringify(headers));
      assert.equal(JSON.parse(discovery.body).authorization_endpoint, `${ISSUER}/auth`, JSON.stringify(headers));
    }
  });

  it('refuses a request target in absolute form for another origin (koa builds URLs from it)', async () => {
    const target = (url: string) =>
      new Promise<Answer>((resolve, reject) => {
        const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
        let raw = '';
        socket.on('data', (chunk) => (raw += chunk));
        socket.on('error', reject);
        socket.on('end', () => {
          const [head, body] = raw.split('\r\n\r\n');
          resolve({ status: Number(head.split(' ')[1]), headers: {}, body });
        });
        socket.end(
          `GET ${url} HTTP/1.1\r\nHost: id.example.test\r\nX-Forwarded-Proto: https\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
        );
      });
    for (const url of ['http://evil.example/.well-known/openid-configuration', 'http://id.example.test/.well-known/openid-configuration']) {
      const answer = await target(url);
      assert.equal(answer.status, 421, url);
      assert.equal(JSON.parse(answer.body).detail, 'This server answers for id.example.test only.', url);
    }
    const own = await target(`${ISSUER}/.well-known/openid-configuration`);
    assert.equal(own.status, 200);
    assert.equal(JSON.parse(own.body).jwks_uri, `${ISSUER}/jwks`);
  });

  it('shows browsers the error page', async () => {
    const page = await get('/auth', { host: 'id.example.test', 'x-forwarded-proto': 'http', accept: 'text/html' });
    assert.equal(page.status, 421);
    assert.match(page.headers['content-type'] as string, /^text\/html/);
    assert.match(page.body, /This server answers https requests only\./);
  });

  it('keeps the health checks answering plain http on any host (the container HEALTHCHECK)', async () => {
    for (const path of ['/healthz', '/readyz']) {
      assert.equal((await get(path, { host: '127.0.0.1:3000' })).status, 200, path);
      assert.equal((await get(path, { host: 'whatever', 'x-forwarded-proto': 'http, https' })).status, 200, path);
    }
  });

  it('marks every cookie Secure: oidc-provider’s and ours', async () => {
    const { client_id } = await createClient(database, server.config);
    const cookies: string[] = [];
    const collect = (answer: Answer) => {
      const set = answer.headers['set-cookie'] ?? [];
      cookies.push(...(Array.isArray(set) ? set : [set]));
      return answer;
    };
    const jar = () => cookies.map((c) => c.split(';')[0]).join('; ');
    const authorize = collect(
      await get(
        `/auth?client_id=${client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(RP_REDIRECT)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
        { ...PROXIED, accept: 'text/html' },
      ),
    );
    assert.equal(authorize.status, 303);
    const interaction = new URL(authorize.headers.location as string, ISSUER);
    const login = collect(await get(interaction.pathname, { ...PROXIED, accept: 'text/html', cookie: jar() }));
    assert.equal(login.status, 200);
    collect(await get('/device', { ...PROXIED, accept: 'text/html' }));
    // Before the refusal, this one set its session cookie without Secure.
    const mixed = collect(await get('/device', { ...PROXIED, 'x-forwarded-proto': 'http, https', accept: 'text/html' }));
    assert.equal(mixed.status, 421);
    assert.equal(mixed.headers['set-cookie'], undefined);

    const names = cookies.map((c) => c.split('=')[0]);
    for (const expected of ['_interaction', '_interaction_resume', 'gatehouse.csrf', '_session']) {
      assert.ok(names.includes(expected), `${expected} among ${names.join(', ')}`);
    }
    for (const cookie of cookies) assert.match(cookie, /; secure(;|$)/i, cookie);
  });
});
