// The admin API's /users, end to end with real client-credentials tokens: authentication and
// scopes (RFC 6750), the happy paths, and the bad input the issue names.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import { createApi, grantApiAccess } from '../../src/apis/index.ts';
import { authorizationRequest, discover, exchangeCode, RP_REDIRECT, signInWithOfflineAccess } from '../helpers/relyingParty.ts';
import { Browser } from '../helpers/browserForm.ts';

const PROBLEM = 'application/problem+json';

describe('admin API: users', () => {
  let database: TestDatabase;
  let server: TestServer;
  let admin: AdminClient;
  let reader: AdminClient;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    admin = await bootstrapAdminClient(server, database, 'Operator');
    reader = await bootstrapAdminClient(server, database, 'Support desk', ['users:read']);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  describe('authentication and scopes', () => {
    it('asks for a token when none is sent (401, Bearer challenge without an error code)', async () => {
      const answer = await admin.call('GET', '/users', { token: null });
      assert.equal(answer.status, 401);
      assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="gatehouse-admin"');
      assert.equal(answer.headers.get('content-type'), PROBLEM);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:unauthorized');
    });

    it('refuses a token it did not issue', async () => {
      const answer = await admin.call('GET', '/users', { token: 'not-a-token-we-issued' });
      assert.equal(answer.status, 401);
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer realm="gatehouse-admin", error="invalid_token"/);
    });

    it('refuses an expired token', async () => {
      const token = await admin.newToken();
      assert.equal((await admin.call('GET', '/users', { token })).status, 200);
      // Time moves in the database: every client-credentials token of this test expires.
      await database
        .db('oidc_payloads')
        .where('model', 'ClientCredentials')
        .update({ expires_at: database.db.raw("now() - interval '1 second'") });
      const answer = await admin.call('GET', '/users', { token });
      assert.equal(answer.status, 401);
      assert.match(answer.body.detail, /not valid/);
      admin.token = await admin.newToken();
      reader.token = await reader.newToken();
    });

    it('refuses a token issued for another API', async () => {
      const other = 'https://orders.api.test';
      await createApi(operator(database), { identifier: other, name: 'Orders', access_token_format: 'opaque' });
      await grantApiAccess(operator(database), other, { client_id: admin.clientId });
      const token = await admin.newToken(other);
      const answer = await admin.call('GET', '/users', { token });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.detail, 'The access token was not issued for the management API');
    });

    it('refuses an operation the token has no scope for (403 insufficient_scope)', async () => {
      assert.equal((await reader.call('GET', '/users')).status, 200);
      const answer = await reader.call('POST', '/users', { body: { email: 'x@example.com' } });
      assert.equal(answer.status, 403);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:insufficient-scope');
      assert.equal(
        answer.headers.get('www-authenticate'),
        'Bearer realm="gatehouse-admin", error="insufficient_scope", scope="users:write", error_description="This operation needs the scope users:write"',
      );
      assert.equal(await database.db('users').where('email', 'x@example.com').first(), undefined);
    });

    it('answers a method a path does not serve with 405 and Allow', async () => {
      const answer = await admin.call('PUT', '/users');
      assert.equal(answer.status, 405);
      assert.equal(answer.headers.get('allow'), 'GET, HEAD, POST, OPTIONS');
    });
  });

  describe('happy paths', () => {
    it('creates a user (201, Location, ETag), reads it back, changes it with If-Match and deletes it', async () => {
      const created = await admin.call('POST', '/users', {
        body: { email: 'Dana@Example.com', password: 'a long enough password', profile: { name: 'Dana', locale: 'en-GB' } },
      });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get('location'), `/api/admin/v1/users/${created.body.id}`);
      assert.equal(created.body.email, 'Dana@Example.com');
      assert.equal(created.body.has_password, true);
      assert.equal('password_hash' in created.body, false);
      const etag = created.headers.get('etag') as string;
      assert.match(etag, /^"[\w-]+"$/);

      const read = await admin.call('GET', `/users/${created.body.id}`);
      assert.equal(read.status, 200);
      assert.equal(read.headers.get('etag'), etag);
      assert.deepEqual(read.body, created.body);

      const changed = await admin.call('PATCH', `/users/${created.body.id}`, {
        body: { profile: { given_name: 'Dana', locale: null } },
        headers: { 'if-match': etag },
      });
      assert.equal(changed.status, 200);
      assert.deepEqual(changed.body.profile, { name: 'Dana', given_name: 'Dana' });
      assert.notEqual(changed.headers.get('etag'), etag);

      const stale = await admin.call('PATCH', `/users/${created.body.id}`, {
        body: { profile: { name: 'Other' } },
        headers: { 'if-match': etag },
      });
      assert.equal(stale.status, 412);
      assert.equal(stale.body.type, 'urn:gatehouse:problem:precondition-failed');
      assert.equal((await admin.call('GET', `/users/${created.body.id}`)).body.profile.name, 'Dana');

      const password = await admin.call('PUT', `/users/${created.body.id}/password`, { body: { password: 'another long password' } });
      assert.equal(password.status, 200);
      assert.deepEqual((await admin.call('GET', `/users/${created.body.id}/sessions`)).body, { data: [] });
      assert.deepEqual((await admin.call('GET', `/users/${created.body.id}/grants`)).body, { data: [] });

      assert.equal((await admin.call('DELETE', `/users/${created.body.id}`)).status, 204);
      const gone = await admin.call('GET', `/users/${created.body.id}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.type, 'urn:gatehouse:problem:not-found');
    });

    it('lists users a page at a time with a cursor and Link rel="next", and filters them', async () => {
      const emails = ['page1@example.com', 'page2@example.com', 'page3@example.com', 'page4@example.com', 'page5@example.com'];
      for (const email of emails) assert.equal((await admin.call('POST', '/users', { body: { email } })).status, 201);
      const seen: string[] = [];
      let path: string | undefined = '/users?limit=2';
      let pages = 0;
      while (path) {
        const answer = await admin.call('GET', path);
        assert.equal(answer.status, 200);
        seen.push(...answer.body.data.map((u: { email: string }) => u.email));
        const link = answer.headers.get('link');
        if (answer.body.next_cursor) assert.match(link ?? '', /^<\/api\/admin\/v1\/users\?limit=2&cursor=[^>]+>; rel="next"$/);
        path = link ? /^<\/api\/admin\/v1([^>]+)>/.exec(link)?.[1] : undefined;
        pages++;
      }
      assert.deepEqual(
        seen.filter((e) => e.startsWith('page')),
        emails,
      );
      assert.equal(new Set(seen).size, seen.length);
      assert.ok(pages >= 3);

      const byEmail = await admin.call('GET', '/users?email=PAGE3@example.com');
      assert.deepEqual(
        byEmail.body.data.map((u: { email: string }) => u.email),
        ['page3@example.com'],
      );
      const future = await admin.call('GET', `/users?created_from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
      assert.deepEqual(future.body, { data: [], next_cursor: null });
    });
  });

  describe('bad input', () => {
    it('refuses malformed JSON', async () => {
      const answer = await admin.call('POST', '/users', { raw: '{"email": ' });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:malformed-body');
    });

    it('refuses a body that is not JSON (415)', async () => {
      const answer = await admin.call('POST', '/users', {
        raw: 'email=a@example.com',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(answer.status, 415);
    });

    it('refuses unknown fields, naming each, then profile attributes the schema does not declare and bad values', async () => {
      const answer = await admin.call('POST', '/users', {
        body: { email: 'u@example.com', role: 'admin', team: 'x', profile: { shoe_size: 44 } },
      });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:invalid-input');
      assert.deepEqual(
        [...answer.body.errors].sort((a, b) => a.path.localeCompare(b.path)),
        [
          { path: 'role', message: 'unknown field' },
          { path: 'team', message: 'unknown field' },
        ],
      );
      // The request's shape first; then its profile, against the profile schema in force.
      const profile = await admin.call('POST', '/users', {
        body: { email: 'u@example.com', profile: { shoe_size: 44, birthdate: '2001-02-29', phone_number: 'call me' } },
      });
      assert.equal(profile.status, 400);
      assert.deepEqual(
        [...profile.body.errors].sort((a, b) => a.path.localeCompare(b.path)),
        [
          { path: 'profile.birthdate', message: 'Enter a real date' },
          {
            path: 'profile.phone_number',
            message: 'Enter the number in international format: + then the country code and number, such as +33612345678',
          },
          { path: 'profile.shoe_size', message: 'unknown field' },
        ],
      );
      assert.equal(await database.db('users').where('email', 'u@example.com').first(), undefined);
    });

    it('refuses an invalid email, saying which field', async () => {
      const answer = await admin.call('POST', '/users', { body: { email: 'not-an-email' } });
      assert.equal(answer.status, 400);
      assert.deepEqual(answer.body.errors, [{ path: 'email', message: 'Enter a valid email address' }]);
    });

    it('refuses a second user with the same email in another letter case (409)', async () => {
      assert.equal((await admin.call('POST', '/users', { body: { email: 'erin@example.com' } })).status, 201);
      const events = Number((await database.db('domain_events').count({ n: '*' }).first())?.n);
      const answer = await admin.call('POST', '/users', { body: { email: 'ERIN@example.COM' } });
      assert.equal(answer.status, 409);
      assert.equal(answer.body.type, 'urn:gatehouse:problem:conflict');
      assert.equal(Number((await database.db('domain_events').count({ n: '*' }).first())?.n), events);
    });

    it('refuses a cursor that was altered', async () => {
      for (const email of ['c1@example.com', 'c2@example.com']) await admin.call('POST', '/users', { body: { email } });
      const first = await admin.call('GET', '/users?limit=1');
      const cursor = first.body.next_cursor as string;
      const [body, tag] = cursor.split('.');
      const position = JSON.parse(Buffer.from(body, 'base64url').toString());
      position.id = '00000000-0000-0000-0000-000000000000';
      const forged = `${Buffer.from(JSON.stringify(position)).toString('base64url')}.${tag}`;
      for (const bad of [forged, 'garbage', `${cursor}x`]) {
        const answer = await admin.call('GET', `/users?limit=1&cursor=${encodeURIComponent(bad)}`);
        assert.equal(answer.status, 400, bad);
        assert.deepEqual(answer.body.errors, [{ path: 'cursor', message: 'not a valid cursor' }]);
      }
    });

    it('refuses unknown query parameters', async () => {
      const answer = await admin.call('GET', '/users?emial=a@example.com');
      assert.equal(answer.status, 400);
      assert.deepEqual(answer.body.errors, [{ path: 'emial', message: 'unknown field' }]);
    });
  });

  describe('Idempotency-Key', () => {
    it('answers a retry with the first answer, and refuses the key with another body (422)', async () => {
      const headers = { 'idempotency-key': 'create-frank-1' };
      const first = await admin.call('POST', '/users', { body: { email: 'frank@example.com' }, headers });
      assert.equal(first.status, 201);
      const retry = await admin.call('POST', '/users', { body: { email: 'frank@example.com' }, headers });
      assert.equal(retry.status, 201);
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(retry.body, first.body);
      assert.equal(retry.headers.get('location'), first.headers.get('location'));
      const other = await admin.call('POST', '/users', { body: { email: 'grace@example.com' }, headers });
      assert.equal(other.status, 422);
      assert.equal(other.body.type, 'urn:gatehouse:problem:idempotency-key-reused');
      assert.equal(await database.db('users').where('email', 'grace@example.com').first(), undefined);
      // Keys are per client: another client's same key is a new request.
      const mine = await reader.call('POST', '/users', { body: { email: 'frank@example.com' }, headers });
      assert.equal(mine.status, 403);
    });

    it('creates one user when the same request races with itself', async () => {
      const headers = { 'idempotency-key': 'race-hana' };
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => admin.call('POST', '/users', { body: { email: 'hana@example.com' }, headers })),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        [201, 201, 201, 201, 201, 201],
      );
      assert.equal(new Set(answers.map((a) => a.body.id)).size, 1);
      assert.equal(Number((await database.db('users').where('email', 'hana@example.com').count({ n: '*' }).first())?.n), 1);
    });
  });

  describe('suspension', () => {
    it("refuses a suspended user's sign-in and ends their tokens; unsuspending lets them in again", async () => {
      const email = 'ivan@example.com';
      const password = 'a long and private passphrase';
      const user = (await admin.call('POST', '/users', { body: { email, password, email_verified: true } })).body;
      const app = await createClient(database, server.config, { name: 'Shop' });
      const config = await discover(server.issuer, app.client_id, app.client_secret);
      const signIn = async () => {
        const browser = new Browser();
        const request = await authorizationRequest(config, { scope: 'openid offline_access', prompt: 'consent' });
        const page = await browser.navigate(request.url.toString());
        const after = await browser.submit(page, /\/password$/, { email, password });
        return { browser, request, page: after };
      };
      const first = await signIn();
      const consented = await first.browser.submit(first.page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
      const tokens = await exchangeCode(config, consented.url, first.request);
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
      const grants = await admin.call('GET', `/users/${user.id}/grants`);
      assert.equal(grants.body.data.length, 1);
      assert.equal(grants.body.data[0].client_id, app.client_id);
      assert.equal((await admin.call('GET', `/users/${user.id}/sessions`)).body.data.length, 1);

      const suspended = await admin.call('POST', `/users/${user.id}/suspend`);
      assert.equal(suspended.status, 200);
      assert.equal(suspended.body.suspended, true);
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
      assert.equal((await client.tokenIntrospection(config, tokens.refresh_token as string)).active, false);
      await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token as string), { error: 'invalid_grant' });
      assert.deepEqual((await admin.call('GET', `/users/${user.id}/sessions`)).body, { data: [] });

      const refused = await signIn();
      assert.equal(refused.page.status, 403);
      assert.match(refused.page.html, /This account is suspended/);
      const audited = await database.db('audit_events').where('type', 'login.failed').whereRaw("details->>'reason' = 'suspended'").first();
      assert.equal(audited.user_id, user.id);

      assert.equal((await admin.call('POST', `/users/${user.id}/unsuspend`)).body.suspended, false);
      const again = await signIn();
      assert.equal(again.page.status, 200);
      assert.match(again.page.html, /action="[^"]*\/consent"/);
    });

    it('revokes one grant of a user: its refresh token stops working', async () => {
      const email = 'judy@example.com';
      const password = 'orchid lantern tugboat valley';
      const user = (await admin.call('POST', '/users', { body: { email, password, email_verified: true } })).body;
      const app = await createClient(database, server.config, { name: 'Blog' });
      const config = await discover(server.issuer, app.client_id, app.client_secret);
      const tokens = await signInWithOfflineAccess(config, email, password);
      const [grant] = (await admin.call('GET', `/users/${user.id}/grants`)).body.data;
      assert.equal((await admin.call('DELETE', `/users/${user.id}/grants/${grant.id}`)).status, 204);
      await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token as string), { error: 'invalid_grant' });
      assert.equal((await admin.call('DELETE', `/users/${user.id}/grants/${grant.id}`)).status, 404);
    });
  });
});
