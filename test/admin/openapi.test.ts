// The admin API's OpenAPI document and reference page: the document is valid OpenAPI 3.1 with
// valid JSON Schemas, describes exactly the operations the server serves (each with its scope),
// and the real answers fit it; the reference page loads no inline script and renders in Chromium
// under the server's strict Content-Security-Policy.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { validate, compileErrors } from '@readme/openapi-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { browserUnavailable, launchChromium } from '../helpers/chromium.ts';
import { ADMIN_BASE_PATH, ADMIN_OPERATIONS, MANAGEMENT_SCOPES } from '../../src/admin/index.ts';

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const DOCUMENT_ID = 'https://gatehouse.test/openapi.json';

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is an untyped tree
type Json = Record<string, any>;

/** A JSON pointer token (RFC 6901). */
const pointer = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1');

/** A concrete path for a documented one: each {placeholder} is a value of the right kind. */
const concrete = (path: string) =>
  path.replace(/\{(\w+)\}/g, (_m, name: string) =>
    name === 'identifier' ? encodeURIComponent('https://placeholder.api.test') : `placeholder-${name.toLowerCase()}`,
  );

describe('admin API: OpenAPI document and reference page', () => {
  let database: TestDatabase;
  let server: TestServer;
  let admin: AdminClient;
  let doc: Json;
  let operations: { method: string; path: string; op: Json }[];

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    admin = await bootstrapAdminClient(server, database, 'Operator');
    const response = await fetch(`${server.url}${ADMIN_BASE_PATH}/openapi.json`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
    doc = (await response.json()) as Json;
    operations = Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
      Object.entries<Json>(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ method, path, op })),
    );
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  describe('document', () => {
    it('is served without a token and is valid OpenAPI 3.1', async () => {
      assert.equal(doc.openapi, '3.1.1');
      assert.deepEqual(doc.servers, [{ url: `${server.issuer}${ADMIN_BASE_PATH}` }]);
      const result = await validate(structuredClone(doc) as Parameters<typeof validate>[0]);
      assert.equal(result.valid, true, compileErrors(result));
      assert.deepEqual(result.warnings, [], compileErrors(result));
    });

    it('has components.schemas that are each valid JSON Schema 2020-12, and compile with their references', () => {
      const names = Object.keys(doc.components.schemas);
      assert.ok(names.includes('Problem'));
      const ajv = new Ajv2020({ strict: false, validateFormats: false });
      for (const name of names) {
        const schema = doc.components.schemas[name];
        assert.equal(ajv.validateSchema(schema), true, `${name}: ${ajv.errorsText(ajv.errors)}`);
      }
      ajv.addSchema(structuredClone(doc), DOCUMENT_ID);
      for (const name of names)
        assert.equal(typeof ajv.compile({ $ref: `${DOCUMENT_ID}#/components/schemas/${pointer(name)}` }), 'function', name);
    });

    it('documents exactly the operations the API declares, each under its path and method with its operationId', () => {
      for (const declared of ADMIN_OPERATIONS) {
        const documented = doc.paths[declared.path]?.[declared.method];
        assert.ok(documented, `${declared.method.toUpperCase()} ${declared.path} is documented`);
        assert.equal(documented.operationId, declared.operationId);
        assert.equal(documented.summary, declared.summary);
        assert.deepEqual(documented.tags, [declared.tag]);
      }
      assert.deepEqual(
        operations.map(({ method, path }) => `${method} ${path}`).sort(),
        ADMIN_OPERATIONS.map((o) => `${o.method} ${o.path}`).sort(),
      );
      const ids = operations.map(({ op }) => op.operationId);
      assert.equal(new Set(ids).size, ids.length);
    });

    it('names the scope of every operation, each one of the scopes of the management API', () => {
      const scheme = doc.components.securitySchemes.managementApi;
      assert.equal(scheme.type, 'oauth2');
      assert.deepEqual(scheme.flows.clientCredentials.scopes, MANAGEMENT_SCOPES);
      assert.equal(scheme.flows.clientCredentials.tokenUrl, `${server.issuer}/token`);
      for (const declared of ADMIN_OPERATIONS) {
        const documented = doc.paths[declared.path][declared.method];
        assert.deepEqual(documented.security, [{ managementApi: [declared.scope] }], declared.operationId);
        assert.ok(declared.scope in scheme.flows.clientCredentials.scopes, declared.scope);
      }
      // Every scope opens something.
      assert.deepEqual([...new Set(ADMIN_OPERATIONS.map((o) => o.scope))].sort(), Object.keys(MANAGEMENT_SCOPES).sort());
    });

    it('says that a 429 or 503 answer carries Retry-After', () => {
      const invite = doc.paths['/users/invitations'].post.responses['429'];
      assert.equal(invite.$ref, '#/components/responses/Problem429');
      assert.deepEqual(doc.components.responses.Problem429.headers['Retry-After'].schema, { type: 'integer', minimum: 0 });
      assert.equal(doc.components.responses.Problem400.headers, undefined);
    });

    it('names a token endpoint that is the one the provider announces', async () => {
      const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Json;
      assert.equal(doc.components.securitySchemes.managementApi.flows.clientCredentials.tokenUrl, discovery.token_endpoint);
    });

    it('documents only operations the server serves: each asks for a token (401), none is 404 or 405', async () => {
      assert.equal(operations.length, ADMIN_OPERATIONS.length);
      for (const { method, path } of operations) {
        const response = await fetch(`${server.url}${ADMIN_BASE_PATH}${concrete(path)}`, { method: method.toUpperCase() });
        const body = (await response.json()) as Json;
        assert.equal(response.status, 401, `${method.toUpperCase()} ${path}`);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="gatehouse-admin"', `${method.toUpperCase()} ${path}`);
        assert.equal(body.type, 'urn:gatehouse:problem:unauthorized', `${method.toUpperCase()} ${path}`);
      }
    });

    it('describes the answers the server really gives', async () => {
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      // The two formats the document uses (ajv-formats is not a dependency).
      ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
      ajv.addFormat('uri', { validate: (value: string) => URL.canParse(value) });
      ajv.addSchema(structuredClone(doc), DOCUMENT_ID);
      const check = (method: string, path: string, status: number, answer: { status: number; headers: Headers; body: unknown }) => {
        assert.equal(answer.status, status, `${method} ${path}`);
        const documented = doc.paths[path][method].responses[String(status)];
        const media = answer.headers.get('content-type')?.split(';')[0] as string;
        const at = documented.$ref
          ? `${DOCUMENT_ID}${documented.$ref}/content/${pointer(media)}/schema`
          : `${DOCUMENT_ID}#/paths/${pointer(path)}/${method}/responses/${status}/content/${pointer(media)}/schema`;
        const fits = ajv.compile({ $ref: at });
        assert.equal(fits(answer.body), true, `${method.toUpperCase()} ${path} ${status}: ${ajv.errorsText(fits.errors)}`);
      };

      const user = await admin.call('POST', '/users', { body: { email: 'oona@example.com', profile: { name: 'Oona' } } });
      check('post', '/users', 201, user);
      check('get', '/users', 200, await admin.call('GET', '/users'));
      check('get', '/users/{userId}', 200, await admin.call('GET', `/users/${user.body.id}`));
      check('get', '/users/{userId}/consents', 200, await admin.call('GET', `/users/${user.body.id}/consents`));
      check('get', '/users/{userId}/policy-acceptances', 200, await admin.call('GET', `/users/${user.body.id}/policy-acceptances`));
      check('get', '/consent-records', 200, await admin.call('GET', '/consent-records'));
      check('get', '/consent-records', 400, await admin.call('GET', '/consent-records?cursor=forged'));
      const app = await admin.call('POST', '/clients', { body: { client_name: 'Schema app', grant_types: ['client_credentials'] } });
      check('post', '/clients', 201, app);
      check('get', '/clients', 200, await admin.call('GET', '/clients'));
      check('post', '/clients/{clientId}/secret', 200, await admin.call('POST', `/clients/${app.body.client_id}/secret`));
      const api = await admin.call('POST', '/apis', { body: { identifier: 'https://schema.api.test', name: 'Schema', scopes: ['s'] } });
      check('post', '/apis', 201, api);
      check('get', '/apis', 200, await admin.call('GET', '/apis'));
      check(
        'put',
        '/apis/{identifier}/clients/{clientId}',
        200,
        await admin.call('PUT', `/apis/${encodeURIComponent('https://schema.api.test')}/clients/${app.body.client_id}`, { body: {} }),
      );
      check('get', '/apis/{identifier}', 200, await admin.call('GET', `/apis/${encodeURIComponent('https://schema.api.test')}`));
      const idp = { id: 'schema-idp', type: 'oidc', display_name: 'Schema IdP', settings: { issuer: 'https://idp.test', client_id: 'c' } };
      check('post', '/connections', 201, await admin.call('POST', '/connections', { body: { ...idp, client_secret: 'shh' } }));
      check('post', '/connections', 409, await admin.call('POST', '/connections', { body: idp }));
      check('get', '/connections', 200, await admin.call('GET', '/connections'));
      check('get', '/connections/{connectionId}', 200, await admin.call('GET', '/connections/schema-idp'));
      check(
        'patch',
        '/connections/{connectionId}',
        200,
        await admin.call('PATCH', '/connections/schema-idp', { body: { enabled: false } }),
      );
      check('get', '/users/{userId}/identities', 200, await admin.call('GET', `/users/${user.body.id}/identities`));
      check('get', '/keys', 200, await admin.call('GET', '/keys'));
      check('post', '/keys/rotate', 200, await admin.call('POST', '/keys/rotate', { body: { now: true } }));
      check('get', '/events', 200, await admin.call('GET', '/events?limit=200'));
      check('get', '/audit-events', 200, await admin.call('GET', '/audit-events?limit=200'));
      check('get', '/users/{userId}', 404, await admin.call('GET', '/users/00000000-0000-0000-0000-000000000000'));
      check('post', '/users', 400, await admin.call('POST', '/users', { body: { email: 'nope' } }));
    });
  });

  describe('reference page', () => {
    it('is HTML with no inline script, under the server’s CSP, and every file it loads is served', async () => {
      const response = await fetch(`${server.url}${ADMIN_BASE_PATH}/reference`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(response.headers.get('content-security-policy'), CSP);
      const html = await response.text();
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)];
      assert.equal(scripts.length, (html.match(/<script\b/gi) ?? []).length, 'every script tag is closed');
      assert.ok(scripts.length > 0);
      for (const [tag, attributes, body] of scripts) {
        assert.match(attributes, /\bsrc="[^"]+"/, tag);
        assert.equal(body.trim(), '', tag);
      }
      assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no inline event handler');
      assert.doesNotMatch(html, /<style\b|\sstyle\s*=/i, 'no inline style');
      assert.doesNotMatch(html, /javascript:/i);

      const loads = [
        ...[...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/gi)].map((m) => ({ url: m[1], type: 'text/javascript; charset=utf-8' })),
        ...[...html.matchAll(/<link\b[^>]*\bhref="([^"]+)"/gi)].map((m) => ({ url: m[1], type: 'text/css; charset=utf-8' })),
      ];
      assert.equal(loads.length, 3);
      for (const { url, type } of loads) {
        const file = await fetch(new URL(url, `${server.url}${ADMIN_BASE_PATH}/reference`));
        assert.equal(file.status, 200, url);
        assert.equal(file.headers.get('content-type'), type, url);
        assert.equal(new URL(file.url).origin, server.url, url);
        await file.arrayBuffer();
      }
    });

    it('renders every operation in Chromium with no CSP violation', { skip: browserUnavailable() }, async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const violations: string[] = [];
        const errors: string[] = [];
        const failed: string[] = [];
        page.on('console', (message) => {
          if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
        });
        page.on('pageerror', (error) => errors.push(error.message));
        page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
        // The page's own report of each violation, in case one does not reach the console.
        // (Code that runs in the page is given as text: this project's types have no DOM.)
        await page.addInitScript(`
          window.cspViolations = [];
          document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
        `);

        const response = await page.goto(`${server.issuer}${ADMIN_BASE_PATH}/reference`);
        assert.equal(response?.status(), 200);
        assert.equal(await page.title(), 'Gatehouse admin API reference');
        // Waited for with locators: a predicate given as text is evaluated with eval, which the
        // page's CSP rightly refuses whenever the first look does not already find every block.
        await page
          .locator('.opblock')
          .nth(ADMIN_OPERATIONS.length - 1)
          .waitFor();
        assert.equal(await page.locator('.opblock').count(), ADMIN_OPERATIONS.length);
        const text = (await page.locator('#swagger-ui').textContent()) ?? '';
        assert.match(text, /Gatehouse admin API/);
        assert.match(text, /Create a user/);
        for (const op of ADMIN_OPERATIONS) assert.ok(text.includes(op.summary), op.summary);

        // Opening an operation renders its parameters, body and answers (examples, highlighted JSON).
        await page.locator('#operations-Users-createUser .opblock-summary').first().click();
        const opened = page.locator('#operations-Users-createUser .opblock-body');
        await opened.waitFor();
        await opened.locator('.responses-wrapper').waitFor();
        const details = (await opened.textContent()) ?? '';
        assert.match(details, /Request body/);
        assert.match(details, /Idempotency-Key/);
        assert.match(details, /application\/problem\+json/);

        assert.deepEqual(violations, []);
        assert.deepEqual(await page.evaluate('window.cspViolations'), []);
        assert.deepEqual(errors, []);
        assert.deepEqual(failed, []);
      } finally {
        await browser.dispose();
      }
    });
  });
});
