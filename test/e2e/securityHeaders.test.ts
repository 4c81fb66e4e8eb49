// Security headers: HSTS only in production (https issuer), the strict CSP and framing rules
// everywhere, and a request id echoed on every response.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('security headers', () => {
  let database: TestDatabase;
  let production: TestServer;
  let development: TestServer;

  before(async () => {
    database = await createTestDatabase();
    production = await startTestServer(database, { NODE_ENV: 'production', ISSUER: 'https://id.example.test', TRUST_PROXY: 'true' });
    development = await startTestServer(database);
  });

  after(async () => {
    await production?.close();
    await development?.close();
    await database?.dispose();
  });

  it('sends HSTS in production only', async () => {
    const prod = await fetch(`${production.url}/healthz`);
    assert.equal(prod.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains');
    const dev = await fetch(`${development.url}/healthz`);
    assert.equal(dev.headers.get('strict-transport-security'), null);
  });

  it('answers only for the issuer host in production, health checks excepted', async () => {
    const get = (path: string, host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        // As the TLS-terminating proxy forwards it.
        const headers = { host, accept: 'application/json', 'x-forwarded-proto': 'https' };
        const req = request(`${production.url}${path}`, { headers }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const poisoned = await get('/.well-known/openid-configuration', 'evil.example');
    assert.equal(poisoned.status, 421);
    assert.equal(JSON.parse(poisoned.body).detail, 'This server answers for id.example.test only.');
    const proper = await get('/.well-known/openid-configuration', 'id.example.test');
    assert.equal(proper.status, 200);
    assert.equal(JSON.parse(proper.body).jwks_uri, 'https://id.example.test/jwks');
    assert.equal((await get('/healthz', '10.0.0.7:3000')).status, 200);
  });

  it('sends the framing, sniffing and referrer rules everywhere, protocol endpoints included', async () => {
    for (const path of ['/', '/healthz', '/.well-known/openid-configuration', '/jwks']) {
      const response = await fetch(`${development.url}${path}`);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
      assert.equal(response.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer', path);
    }
  });

  it('keeps a well-formed incoming request id and replaces a malformed one', async () => {
    const kept = await fetch(`${development.url}/healthz`, { headers: { 'x-request-id': 'proxy-id-123' } });
    assert.equal(kept.headers.get('x-request-id'), 'proxy-id-123');
    const replaced = await fetch(`${development.url}/healthz`, { headers: { 'x-request-id': 'bad id <script>' } });
    assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });
});
