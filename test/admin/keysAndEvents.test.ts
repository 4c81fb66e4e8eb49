// The admin API's /keys, /events and /audit-events, end to end with real client-credentials
// tokens: keys are listed without any secret part and rotate at once (JWKS and new tokens follow
// without a restart); every change made through the API is a CloudEvents event naming who made it
// and in which request, read by a poller with a cursor, and an audit record.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeProtectedHeader } from 'jose';
import pg from 'pg';
import { createScratchDatabase, createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bootstrapAdminClient, type AdminClient } from '../helpers/adminApi.ts';
import { discover } from '../helpers/relyingParty.ts';

const KEY_FIELDS = ['activates_at', 'alg', 'created_at', 'expires_at', 'kid', 'kind', 'retired_at', 'state'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const WAREHOUSE = 'https://warehouse.api.test';

interface Key {
  kid: string;
  kind: string;
  alg: string | null;
  state: string;
  created_at: string;
  activates_at: string | null;
  retired_at: string | null;
  expires_at: string | null;
}

interface CloudEvent {
  specversion: string;
  id: string;
  type: string;
  source: string;
  subject: string | null;
  time: string;
  datacontenttype: string;
  actor: { type: string; id?: string };
  request_id: string | null;
  data: Record<string, unknown>;
}

/** With DATABASE_URL: a transaction holding a transaction id, open in a database of its own on that server. */
async function holdTransactionInAnotherDatabase(): Promise<{ release(): Promise<void> } | undefined> {
  if (!process.env.DATABASE_URL) return undefined;
  const scratch = await createScratchDatabase(process.env.DATABASE_URL, 'gatehouse_elsewhere');
  const other = new pg.Client({ connectionString: scratch.url });
  await other.connect();
  await other.query('begin');
  await other.query('select pg_current_xact_id()');
  return {
    release: async () => {
      await other.query('rollback');
      await other.end();
      await scratch.drop();
    },
  };
}

describe('admin API: keys and events', () => {
  let database: TestDatabase;
  let server: TestServer;
  let admin: AdminClient;
  let support: AdminClient;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    admin = await bootstrapAdminClient(server, database, 'Operator');
    support = await bootstrapAdminClient(server, database, 'Support desk', ['users:read']);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  describe('keys', () => {
    const jwks = async (): Promise<Record<string, string>[]> => {
      const response = await fetch(`${server.url}/jwks`);
      assert.equal(response.status, 200);
      return ((await response.json()) as { keys: Record<string, string>[] }).keys;
    };

    it('lists the keys with no secret part', async () => {
      const answer = await admin.call('GET', '/keys');
      assert.equal(answer.status, 200);
      const keys: Key[] = answer.body.data;
      for (const key of keys) assert.deepEqual(Object.keys(key).sort(), KEY_FIELDS, key.kid);
      assert.deepEqual(keys.map((k) => `${k.kind} ${k.alg} ${k.state}`).sort(), [
        'cookie null current',
        'signing ES256 current',
        'signing RS256 current',
      ]);
      for (const key of keys) {
        assert.match(key.kid, UUID);
        assert.match(key.created_at, ISO_TIME);
        assert.equal(key.retired_at, null);
        assert.equal(key.expires_at, null);
      }
      // The signing keys listed are the ones published.
      assert.deepEqual(
        (await jwks()).map((k) => k.kid).sort(),
        keys
          .filter((k) => k.kind === 'signing')
          .map((k) => k.kid)
          .sort(),
      );
    });

    it('rotates at once with now: true; JWKS publishes the new keys and new tokens are signed with them', async () => {
      // A client that gets JWT access tokens (ES256) for an API.
      assert.equal(
        (await admin.call('POST', '/apis', { body: { identifier: WAREHOUSE, name: 'Warehouse', scopes: ['stock'] } })).status,
        201,
      );
      const worker = (
        await admin.call('POST', '/clients', { body: { client_name: 'Warehouse worker', grant_types: ['client_credentials'] } })
      ).body;
      assert.equal(
        (await admin.call('PUT', `/apis/${encodeURIComponent(WAREHOUSE)}/clients/${worker.client_id}`, { body: {} })).status,
        200,
      );
      const token = async () =>
        (
          await client.clientCredentialsGrant(await discover(server.issuer, worker.client_id, worker.client_secret), {
            resource: WAREHOUSE,
            scope: 'stock',
          })
        ).access_token;

      const before: Key[] = (await admin.call('GET', '/keys')).body.data;
      const oldEs256 = before.find((k) => k.alg === 'ES256')?.kid;
      assert.equal(decodeProtectedHeader(await token()).kid, oldEs256);

      const rotated = await admin.call('POST', '/keys/rotate', { body: { now: true } });
      assert.equal(rotated.status, 200);
      assert.equal(rotated.headers.get('cache-control'), 'no-store');
      assert.deepEqual(Object.keys(rotated.body).sort(), ['activatesAt', 'created', 'retired']);
      assert.match(rotated.body.activatesAt, ISO_TIME);
      const created: { kid: string; kind: string; alg: string | null }[] = rotated.body.created;
      assert.deepEqual(created.map((k) => `${k.kind} ${k.alg}`).sort(), ['cookie null', 'signing ES256', 'signing RS256']);
      for (const k of created) assert.deepEqual(Object.keys(k).sort(), ['alg', 'kid', 'kind']);
      assert.deepEqual(rotated.body.retired.map((k: { kid: string }) => k.kid).sort(), before.map((k) => k.kid).sort());
      for (const k of rotated.body.retired) {
        assert.deepEqual(Object.keys(k).sort(), ['alg', 'expiresAt', 'kid', 'kind']);
        assert.match(k.expiresAt, ISO_TIME);
      }

      // Published at once, beside the retired keys (what they signed must still verify).
      const newSigning = created.filter((k) => k.kind === 'signing').map((k) => k.kid);
      const oldSigning = before.filter((k) => k.kind === 'signing').map((k) => k.kid);
      const published = await jwks();
      assert.deepEqual(published.map((k) => k.kid).sort(), [...newSigning, ...oldSigning].sort());
      for (const key of published)
        assert.deepEqual(
          Object.keys(key).sort(),
          key.kty === 'EC' ? ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'] : ['alg', 'e', 'kid', 'kty', 'n', 'use'],
        );
      // ... and signing at once.
      assert.equal(decodeProtectedHeader(await token()).kid, created.find((k) => k.alg === 'ES256')?.kid);

      const after: Key[] = (await admin.call('GET', '/keys')).body.data;
      for (const key of after) assert.deepEqual(Object.keys(key).sort(), KEY_FIELDS, key.kid);
      assert.deepEqual(
        after
          .filter((k) => k.state === 'current')
          .map((k) => k.kid)
          .sort(),
        created.map((k) => k.kid).sort(),
      );
      assert.deepEqual(
        after
          .filter((k) => k.state === 'retired')
          .map((k) => k.kid)
          .sort(),
        before.map((k) => k.kid).sort(),
      );
      for (const key of after.filter((k) => k.state === 'retired')) {
        assert.match(key.retired_at as string, ISO_TIME);
        assert.equal(key.expires_at, rotated.body.retired.find((r: { kid: string }) => r.kid === key.kid).expiresAt);
      }
    });

    it('refuses an algorithm it does not sign with (400) and rotates nothing', async () => {
      const before = (await admin.call('GET', '/keys')).body;
      const answer = await admin.call('POST', '/keys/rotate', { body: { algs: ['HS256'] } });
      assert.equal(answer.status, 400);
      assert.equal(answer.headers.get('content-type'), 'application/problem+json');
      assert.equal(answer.body.type, 'urn:gatehouse:problem:invalid-input');
      assert.deepEqual(answer.body.errors, [{ path: 'algs.0', message: 'Invalid option: expected one of "RS256"|"ES256"|"PS256"' }]);
      const unknown = await admin.call('POST', '/keys/rotate', { body: { now: true, force: true } });
      assert.equal(unknown.status, 400);
      assert.deepEqual(unknown.body.errors, [{ path: 'force', message: 'unknown field' }]);
      assert.deepEqual((await admin.call('GET', '/keys')).body, before);
    });
  });

  describe('events', () => {
    /** Reads the feed to its end from `cursor`; returns what came and the cursor to keep. */
    const drain = async (cursor?: string) => {
      const events: CloudEvent[] = [];
      for (;;) {
        const answer = await admin.call('GET', `/events?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(answer.status, 200);
        events.push(...answer.body.data);
        cursor = answer.body.next_cursor as string;
        if (answer.body.data.length < 200) return { events, cursor };
      }
    };

    const password = 'a password nobody may see';
    let kept: string;
    let user: { id: string; created_at: string };
    let userRequestId: string;
    let app: { client_id: string; client_secret: string; created_at: string };
    let appRequestId: string;

    before(async () => {
      kept = (await drain()).cursor;
      const createdUser = await admin.call('POST', '/users', { body: { email: 'kim@example.com', password } });
      assert.equal(createdUser.status, 201);
      user = createdUser.body;
      userRequestId = createdUser.headers.get('x-request-id') as string;
      const createdApp = await admin.call('POST', '/clients', { body: { client_name: 'Event app', grant_types: ['client_credentials'] } });
      assert.equal(createdApp.status, 201);
      app = createdApp.body;
      appRequestId = createdApp.headers.get('x-request-id') as string;
    });

    it('records each change as a CloudEvents event naming the admin client and the request', async () => {
      assert.match(userRequestId, UUID);
      assert.match(appRequestId, UUID);
      const { events } = await drain(kept);
      assert.equal(events.length, 2);
      for (const event of events) assert.match(event.id, UUID);
      assert.notEqual(events[0].id, events[1].id);
      assert.deepEqual(events, [
        {
          specversion: '1.0',
          id: events[0].id,
          type: 'gatehouse.user.created',
          source: server.issuer,
          subject: user.id,
          // Written in the transaction that made the user.
          time: user.created_at,
          datacontenttype: 'application/json',
          actor: { type: 'client', id: admin.clientId },
          request_id: userRequestId,
          data: { email: 'kim@example.com', email_verified: false },
        },
        {
          specversion: '1.0',
          id: events[1].id,
          type: 'gatehouse.client.created',
          source: server.issuer,
          subject: app.client_id,
          time: app.created_at,
          datacontenttype: 'application/json',
          actor: { type: 'client', id: admin.clientId },
          request_id: appRequestId,
          data: { client_name: 'Event app' },
        },
      ]);
    });

    it('never carries a secret: neither the password nor a client secret is anywhere in the feed or the audit trail', async () => {
      const rotated = await admin.call('POST', `/clients/${app.client_id}/secret`);
      assert.equal(rotated.status, 200);
      const feed = await admin.call('GET', '/events?limit=200');
      assert.equal(feed.status, 200);
      assert.equal(
        feed.body.data.some((e: CloudEvent) => e.subject === app.client_id),
        true,
      );
      const audit = await admin.call('GET', '/audit-events?limit=200');
      assert.equal(audit.status, 200);
      for (const page of [JSON.stringify(feed.body), JSON.stringify(audit.body)]) {
        assert.equal(page.includes(password), false);
        assert.equal(page.includes(app.client_secret), false);
        assert.equal(page.includes(rotated.body.client_secret), false);
        assert.equal(page.includes(admin.clientSecret), false);
      }
    });

    it('hands a poller a cursor that brings exactly what came after it', async () => {
      const { cursor } = await drain(kept);
      const empty = await admin.call('GET', `/events?cursor=${encodeURIComponent(cursor)}`);
      assert.equal(empty.status, 200);
      assert.deepEqual(empty.body, { data: [], next_cursor: cursor });
      assert.equal(empty.headers.get('link'), null);

      const changed = await admin.call('PATCH', `/users/${user.id}`, { body: { profile: { name: 'Kim' } } });
      assert.equal(changed.status, 200);
      const next = await admin.call('GET', `/events?cursor=${encodeURIComponent(cursor)}`);
      assert.equal(next.status, 200);
      assert.equal(next.body.data.length, 1);
      assert.deepEqual(next.body.data[0], {
        specversion: '1.0',
        id: next.body.data[0].id,
        type: 'gatehouse.user.updated',
        source: server.issuer,
        subject: user.id,
        time: changed.body.updated_at,
        datacontenttype: 'application/json',
        actor: { type: 'client', id: admin.clientId },
        request_id: changed.headers.get('x-request-id'),
        data: { changed: ['profile.name'] },
      });
      assert.notEqual(next.body.next_cursor, cursor);
      // The same cursor again brings the same event again; the new one brings nothing.
      assert.deepEqual((await admin.call('GET', `/events?cursor=${encodeURIComponent(cursor)}`)).body, next.body);
      assert.deepEqual((await admin.call('GET', `/events?cursor=${encodeURIComponent(next.body.next_cursor)}`)).body, {
        data: [],
        next_cursor: next.body.next_cursor,
      });
    });

    it('pages with limit, sending Link rel="next" while a page is full', async () => {
      const all = (await drain()).events;
      assert.ok(all.length >= 3);
      const first = await admin.call('GET', '/events?limit=2');
      assert.deepEqual(
        first.body.data.map((e: CloudEvent) => e.id),
        all.slice(0, 2).map((e) => e.id),
      );
      assert.equal(
        first.headers.get('link'),
        `</api/admin/v1/events?limit=2&cursor=${encodeURIComponent(first.body.next_cursor)}>; rel="next"`,
      );
      const second = await admin.call('GET', `/events?limit=2&cursor=${encodeURIComponent(first.body.next_cursor)}`);
      assert.deepEqual(
        second.body.data.map((e: CloudEvent) => e.id),
        all.slice(2, 4).map((e) => e.id),
      );
    });

    it('filters by type and by subject', async () => {
      const users = await admin.call('GET', '/events?type=gatehouse.user.created&limit=200');
      assert.equal(users.status, 200);
      assert.deepEqual(
        users.body.data.map((e: CloudEvent) => [e.type, e.subject]),
        [['gatehouse.user.created', user.id]],
      );
      const two = await admin.call(
        'GET',
        `/events?type=${encodeURIComponent('gatehouse.user.created, gatehouse.client.created')}&limit=200`,
      );
      assert.deepEqual(two.body.data.map((e: CloudEvent) => e.type).sort(), [
        'gatehouse.client.created',
        'gatehouse.client.created',
        'gatehouse.client.created',
        'gatehouse.client.created',
        'gatehouse.client.created',
        'gatehouse.user.created',
      ]);
      assert.deepEqual(
        two.body.data.filter((e: CloudEvent) => e.type === 'gatehouse.client.created').map((e: CloudEvent) => e.subject),
        [
          // The account area's built-in client, made at the first start.
          'gatehouse-account',
          admin.clientId,
          support.clientId,
          (await database.db('clients').where('client_name', 'Warehouse worker').first()).client_id,
          app.client_id,
        ],
      );
      const aboutKim = await admin.call('GET', `/events?subject=${encodeURIComponent(user.id)}&limit=200`);
      assert.deepEqual(
        aboutKim.body.data.map((e: CloudEvent) => e.type),
        ['gatehouse.user.created', 'gatehouse.user.updated'],
      );
      const none = await admin.call('GET', '/events?type=gatehouse.nothing.happened');
      assert.equal(none.status, 200);
      assert.deepEqual(none.body.data, []);
    });

    it('serves an event at once while a transaction is open in another database of the same PostgreSQL server', async () => {
      // Only transactions that could still write this database's outbox may hold the feed back;
      // one in another database (another test file, another application on a shared server) cannot.
      // On PGlite there is no other database: the event must simply be served at once.
      const { cursor } = await drain();
      const elsewhere = await holdTransactionInAnotherDatabase();
      try {
        const created = await admin.call('POST', '/apis', { body: { identifier: 'https://feed.api.test', name: 'Feed' } });
        assert.equal(created.status, 201);
        const page = await admin.call('GET', `/events?cursor=${encodeURIComponent(cursor)}`);
        assert.deepEqual(
          page.body.data.map((e: CloudEvent) => [e.type, e.subject]),
          [['gatehouse.api.created', 'https://feed.api.test']],
          'the event is held back by a transaction in another database',
        );
      } finally {
        await elsewhere?.release();
      }
    });

    it('refuses a cursor that was altered, or one of another list (400)', async () => {
      const { cursor } = await drain();
      const [body, tag] = cursor.split('.');
      const position = JSON.parse(Buffer.from(body, 'base64url').toString());
      position.seq = 0;
      const forged = `${Buffer.from(JSON.stringify(position)).toString('base64url')}.${tag}`;
      const auditCursor = (await admin.call('GET', '/audit-events?limit=1')).body.next_cursor as string;
      assert.equal(typeof auditCursor, 'string');
      for (const bad of [forged, 'garbage', `${cursor}x`, `${cursor}.more`, auditCursor]) {
        const answer = await admin.call('GET', `/events?cursor=${encodeURIComponent(bad)}`);
        assert.equal(answer.status, 400, bad);
        assert.equal(answer.body.type, 'urn:gatehouse:problem:invalid-input');
        assert.deepEqual(answer.body.errors, [{ path: 'cursor', message: 'not a valid cursor' }]);
      }
      const unknown = await admin.call('GET', '/events?since=yesterday');
      assert.equal(unknown.status, 400);
      assert.deepEqual(unknown.body.errors, [{ path: 'since', message: 'unknown field' }]);
    });
  });

  describe('audit events', () => {
    it('lists audit records newest first, with who made each change', async () => {
      const created = await admin.call('POST', '/users', { body: { email: 'lee@example.com' } });
      assert.equal(created.status, 201);
      const answer = await admin.call('GET', '/audit-events?limit=200');
      assert.equal(answer.status, 200);
      assert.equal(answer.body.next_cursor, null);
      const records = answer.body.data;
      for (let i = 1; i < records.length; i++) assert.ok(records[i - 1].id > records[i].id, `record ${i} is older than the one before`);
      assert.deepEqual(records[0], {
        id: records[0].id,
        at: created.body.created_at,
        type: 'user.created',
        user_id: created.body.id,
        client_id: admin.clientId,
        ip: '127.0.0.1',
        request_id: created.headers.get('x-request-id'),
        details: { email: 'lee@example.com', email_verified: false, actor: { type: 'client', id: admin.clientId } },
      });
      const types = records.map((r: { type: string }) => r.type);
      assert.equal(types.at(-1), 'api.created', 'the oldest: the management API, made at the first start');
      assert.ok(types.indexOf('user.created') < types.indexOf('keys.rotated'));

      const onlyUsers = await admin.call('GET', '/audit-events?type=user.created&limit=200');
      assert.deepEqual(
        onlyUsers.body.data.map((r: { details: { email: string } }) => r.details.email),
        ['lee@example.com', 'kim@example.com'],
      );
      const firstPage = await admin.call('GET', '/audit-events?type=user.created&limit=1');
      const secondPage = await admin.call(
        'GET',
        `/audit-events?type=user.created&limit=1&cursor=${encodeURIComponent(firstPage.body.next_cursor)}`,
      );
      assert.deepEqual(
        [...firstPage.body.data, ...secondPage.body.data].map((r: { details: { email: string } }) => r.details.email),
        ['lee@example.com', 'kim@example.com'],
      );
    });
  });

  describe('scopes', () => {
    it('refuses a token without events:read or keys:read/keys:write (403)', async () => {
      assert.equal((await support.call('GET', '/users')).status, 200);
      const needs: [string, string, string][] = [
        ['GET', '/events', 'events:read'],
        ['GET', '/audit-events', 'events:read'],
        ['GET', '/keys', 'keys:read'],
        ['POST', '/keys/rotate', 'keys:write'],
      ];
      const keys = (await admin.call('GET', '/keys')).body;
      for (const [method, at, scope] of needs) {
        const answer = await support.call(method, at, method === 'POST' ? { body: { now: true } } : {});
        assert.equal(answer.status, 403, `${method} ${at}`);
        assert.equal(answer.body.type, 'urn:gatehouse:problem:insufficient-scope');
        assert.equal(
          answer.headers.get('www-authenticate'),
          `Bearer realm="gatehouse-admin", error="insufficient_scope", scope="${scope}", error_description="This operation needs the scope ${scope}"`,
        );
      }
      assert.deepEqual((await admin.call('GET', '/keys')).body, keys);
    });
  });
});
