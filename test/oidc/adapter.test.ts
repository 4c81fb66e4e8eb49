// Contract tests for the oidc-provider adapter on the real database: the shared oidc_payloads
// table (KnexAdapter), the expiry sweeper, and the Client model through the client store.
// One database per file (PGlite in memory, or a fresh PostgreSQL database with DATABASE_URL),
// emptied between tests.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type { AdapterPayload } from 'oidc-provider';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { openDatabase, type Db } from '../../src/db/index.ts';
import { KnexAdapter, knexAdapterFactory, sweepExpired } from '../../src/oidc/adapter.ts';
import { DuplicateArtefactError, payloadWriterFor } from '../../src/oidc/payloadWriter.ts';
import { artefactDigest, ArtefactProtection } from '../../src/oidc/storedArtefacts.ts';
import { ConcurrentReplayError } from '../../src/oidc/singleUse.ts';
import { withReadAhead } from '../../src/oidc/readAhead.ts';
import { createClientStore, matchesClientSecret, type ClientRow } from '../../src/oidc/clients.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';

const SECRET_KEY = 'adapter-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz';

let database: TestDatabase;
let db: Db;

before(async () => {
  database = await createTestDatabase();
  db = database.db;
});

after(async () => {
  await database?.dispose();
});

beforeEach(async () => {
  await truncateAll(database);
});

const box = createSecretBox(SECRET_KEY);
const protection = new ArtefactProtection(box);
const adapter = (model: string) => new KnexAdapter(model, db, protection);

/** `model:digest` keys, as rows are stored, from `model:value` pairs. */
const stored = (...keys: string[]) =>
  keys
    .map((key) => {
      const [model, id] = key.split(':');
      return `${model}:${artefactDigest(id)}`;
    })
    .sort();

const nowEpoch = () => Math.floor(Date.now() / 1000);

/** Moves a row's expiry into the past, as if its lifetime had run out (no waiting). */
async function expire(model: string, id: string): Promise<void> {
  const updated = await db('oidc_payloads')
    .where({ model, id: artefactDigest(id) })
    .update({ expires_at: db.raw("now() - interval '1 minute'") });
  assert.equal(updated, 1, `expected one ${model} row ${id} to expire`);
}

/** Runs `work` and counts the statements matching `sql` it sent to the database. */
async function countStatements(sql: RegExp, work: () => Promise<unknown>): Promise<number> {
  // Start from an idle writer: one still finishing the last test's work would fold the first
  // row into the next statement.
  await payloadWriterFor(db).whenIdle();
  let statements = 0;
  const listener = (query: { sql: string }) => {
    if (sql.test(query.sql)) statements++;
  };
  db.on('query', listener);
  try {
    await work();
  } finally {
    db.off('query', listener);
  }
  return statements;
}

/** Inserts a row directly, bypassing upsert, with an expiry already in the past. */
async function insertExpired(model: string, id: string, payload: AdapterPayload = { jti: id }): Promise<void> {
  const storedId = artefactDigest(id);
  await db('oidc_payloads').insert({
    model,
    id: storedId,
    payload: JSON.stringify(protection.protect(model, storedId, payload)),
    grant_id: payload.grantId ? artefactDigest(payload.grantId) : null,
    user_code: payload.userCode ? artefactDigest(payload.userCode) : null,
    uid: payload.uid ?? null,
    expires_at: db.raw("now() - interval '1 hour'"),
  });
}

async function rowKeys(): Promise<string[]> {
  const rows: { model: string; id: string }[] = await db('oidc_payloads').select('model', 'id');
  return rows.map((r) => `${r.model}:${r.id}`).sort();
}

async function rowCount(): Promise<number> {
  const result = await db('oidc_payloads').count<{ count: string | number }[]>('* as count');
  return Number(result[0].count);
}

// Payloads shaped like the ones oidc-provider 9 writes for each model.
const iat = 1_760_000_000;
const SAMPLES: Record<string, AdapterPayload> = {
  AccessToken: {
    iat,
    exp: iat + 3600,
    accountId: 'user-1',
    clientId: 'client-1',
    grantId: 'grant-1',
    gty: 'authorization_code',
    kind: 'AccessToken',
    jti: 'at-1',
    scope: 'openid email',
    aud: 'https://api.example.test',
  },
  AuthorizationCode: {
    iat,
    exp: iat + 60,
    accountId: 'user-1',
    clientId: 'client-1',
    grantId: 'grant-1',
    kind: 'AuthorizationCode',
    jti: 'code-1',
    scope: 'openid',
    redirectUri: 'https://rp.example.test/cb',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    codeChallengeMethod: 'S256',
    nonce: 'n-0S6_WzA2Mj',
    claims: { id_token: { email: null } },
  },
  RefreshToken: {
    iat,
    exp: iat + 86400,
    accountId: 'user-1',
    clientId: 'client-1',
    grantId: 'grant-1',
    gty: 'authorization_code',
    kind: 'RefreshToken',
    jti: 'rt-1',
    rotations: 0,
    scope: 'openid offline_access',
    iiat: iat,
  },
  Session: {
    iat,
    exp: iat + 1209600,
    uid: 'session-uid-1',
    kind: 'Session',
    jti: 'sess-1',
    accountId: 'user-1',
    loginTs: iat,
    authorizations: { 'client-1': { sid: 'sid-1', grantId: 'grant-1' } },
  },
  Interaction: {
    iat,
    exp: iat + 3600,
    returnTo: 'https://op.example.test/auth/int-1',
    prompt: { name: 'login', reasons: ['no_session'], details: {} },
    params: { client_id: 'client-1', redirect_uri: 'https://rp.example.test/cb', response_type: 'code', scope: 'openid' },
    kind: 'Interaction',
    jti: 'int-1',
  },
  Grant: {
    iat,
    exp: iat + 1209600,
    accountId: 'user-1',
    clientId: 'client-1',
    kind: 'Grant',
    jti: 'grant-1',
    openid: { scope: 'openid email' },
    resources: { 'https://api.example.test': 'read' },
  } as AdapterPayload,
  DeviceCode: {
    iat,
    exp: iat + 600,
    clientId: 'client-1',
    kind: 'DeviceCode',
    jti: 'dc-1',
    userCode: 'BCDFGHJK',
    params: { client_id: 'client-1', scope: 'openid' },
    deviceInfo: { ip: '127.0.0.1', ua: 'test-agent' },
  },
  ClientCredentials: {
    iat,
    exp: iat + 600,
    clientId: 'client-1',
    kind: 'ClientCredentials',
    jti: 'cc-1',
    scope: 'read',
    aud: 'https://api.example.test',
  },
  InitialAccessToken: { iat, kind: 'InitialAccessToken', jti: 'iat-1', policies: ['default'] },
  RegistrationAccessToken: { iat, clientId: 'client-1', kind: 'RegistrationAccessToken', jti: 'rat-1', policies: ['default'] },
  ReplayDetection: { iat, exp: iat + 60, kind: 'ReplayDetection', jti: 'replay-1', iss: 'client-1' },
  PushedAuthorizationRequest: {
    iat,
    exp: iat + 60,
    clientId: 'client-1',
    kind: 'PushedAuthorizationRequest',
    jti: 'par-1',
    request: 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.',
    dpopJkt: 'jkt-1',
  },
  BackchannelAuthenticationRequest: {
    iat,
    exp: iat + 600,
    accountId: 'user-1',
    clientId: 'client-1',
    kind: 'BackchannelAuthenticationRequest',
    jti: 'ciba-1',
    scope: 'openid',
    params: { login_hint: 'user-1', scope: 'openid' },
  },
};

describe('KnexAdapter: upsert and find', () => {
  it('round-trips the payload of every model', async () => {
    for (const [model, payload] of Object.entries(SAMPLES)) {
      await adapter(model).upsert(payload.jti as string, payload, 3600);
    }
    for (const [model, payload] of Object.entries(SAMPLES)) {
      assert.deepEqual(await adapter(model).find(payload.jti as string), payload, model);
    }
    assert.equal(await rowCount(), Object.keys(SAMPLES).length);
  });

  it('stores the lookup columns pulled out of the payload and an expiry of now + expiresIn', async () => {
    const before = Date.now();
    await adapter('AccessToken').upsert('at-1', SAMPLES.AccessToken, 3600);
    await adapter('DeviceCode').upsert('dc-1', SAMPLES.DeviceCode, 600);
    await adapter('Session').upsert('sess-1', SAMPLES.Session, 1209600);
    const after = Date.now();

    const rows: {
      model: string;
      grant_id: string | null;
      user_code: string | null;
      uid: string | null;
      expires_at: Date;
      consumed_at: Date | null;
    }[] = await db('oidc_payloads').select('model', 'grant_id', 'user_code', 'uid', 'expires_at', 'consumed_at').orderBy('model');
    assert.deepEqual(
      rows.map(({ model, grant_id, user_code, uid, consumed_at }) => ({ model, grant_id, user_code, uid, consumed_at })),
      [
        { model: 'AccessToken', grant_id: artefactDigest('grant-1'), user_code: null, uid: null, consumed_at: null },
        { model: 'DeviceCode', grant_id: null, user_code: artefactDigest('BCDFGHJK'), uid: null, consumed_at: null },
        { model: 'Session', grant_id: null, user_code: null, uid: 'session-uid-1', consumed_at: null },
      ],
    );
    const lifetimes: Record<string, number> = { AccessToken: 3600, DeviceCode: 600, Session: 1209600 };
    for (const row of rows) {
      const expiresAt = new Date(row.expires_at).getTime();
      const lifetime = lifetimes[row.model] * 1000;
      // Seconds, not milliseconds: within the window of the calls (1 s slack for rounding).
      assert.ok(expiresAt >= before + lifetime - 1000 && expiresAt <= after + lifetime + 1000, `${row.model} expires_at ${row.expires_at}`);
    }
  });

  it('upsert again replaces the payload (and the lookup columns) of the same row', async () => {
    const codes = adapter('DeviceCode');
    await codes.upsert('dc-1', SAMPLES.DeviceCode, 600);
    const approved: AdapterPayload = { ...SAMPLES.DeviceCode, accountId: 'user-7', grantId: 'grant-7', userCode: 'LMNPQRST' };
    delete approved.deviceInfo;
    await codes.upsert('dc-1', approved, 600);

    assert.deepEqual(await codes.find('dc-1'), approved);
    assert.equal(await rowCount(), 1);
    assert.equal(await codes.findByUserCode('BCDFGHJK'), undefined);
    assert.deepEqual(await codes.findByUserCode('LMNPQRST'), approved);
    const row = await db('oidc_payloads')
      .where({ model: 'DeviceCode', id: artefactDigest('dc-1') })
      .first('grant_id', 'user_code');
    assert.deepEqual({ ...row }, { grant_id: artefactDigest('grant-7'), user_code: artefactDigest('LMNPQRST') });
  });

  it('upsert again without expiresIn makes the row permanent', async () => {
    await adapter('Grant').upsert('g', SAMPLES.Grant, 60);
    await adapter('Grant').upsert('g', SAMPLES.Grant);
    const row = await db('oidc_payloads')
      .where({ model: 'Grant', id: artefactDigest('g') })
      .first('expires_at');
    assert.equal(row.expires_at, null);
  });

  it('keeps the same id under two models as two separate rows', async () => {
    const accessPayload: AdapterPayload = { ...SAMPLES.AccessToken, jti: 'shared' };
    const refreshPayload: AdapterPayload = { ...SAMPLES.RefreshToken, jti: 'shared' };
    await adapter('AccessToken').upsert('shared', accessPayload, 3600);
    await adapter('RefreshToken').upsert('shared', refreshPayload, 3600);

    assert.deepEqual(await rowKeys(), stored('AccessToken:shared', 'RefreshToken:shared'));
    assert.deepEqual(await adapter('AccessToken').find('shared'), accessPayload);
    assert.deepEqual(await adapter('RefreshToken').find('shared'), refreshPayload);

    // Writing one model's row leaves the other's alone.
    const rotated: AdapterPayload = { ...refreshPayload, rotations: 1 };
    await adapter('RefreshToken').upsert('shared', rotated, 3600);
    assert.deepEqual(await adapter('AccessToken').find('shared'), accessPayload);
    assert.deepEqual(await adapter('RefreshToken').find('shared'), rotated);
  });

  it('find of an unknown id returns undefined', async () => {
    await adapter('AccessToken').upsert('at-1', SAMPLES.AccessToken, 3600);
    assert.equal(await adapter('AccessToken').find('no-such-token'), undefined);
    // An id that exists only under another model is unknown to this one.
    assert.equal(await adapter('RefreshToken').find('at-1'), undefined);
  });
});

describe('KnexAdapter: expiry', () => {
  it('never returns a row whose expiry has passed, from find, findByUid or findByUserCode', async () => {
    await adapter('AccessToken').upsert('at-1', SAMPLES.AccessToken, 600);
    await adapter('Session').upsert('sess-1', SAMPLES.Session, 600);
    await adapter('DeviceCode').upsert('dc-1', SAMPLES.DeviceCode, 600);
    // Live while their lifetime lasts; then the database's clock passes their expiry (no waiting).
    assert.deepEqual(await adapter('AccessToken').find('at-1'), SAMPLES.AccessToken);
    assert.deepEqual(await adapter('Session').findByUid('session-uid-1'), SAMPLES.Session);
    assert.deepEqual(await adapter('DeviceCode').findByUserCode('BCDFGHJK'), SAMPLES.DeviceCode);

    await expire('AccessToken', 'at-1');
    await expire('Session', 'sess-1');
    await expire('DeviceCode', 'dc-1');

    assert.equal(await adapter('AccessToken').find('at-1'), undefined);
    assert.equal(await adapter('Session').find('sess-1'), undefined);
    assert.equal(await adapter('Session').findByUid('session-uid-1'), undefined);
    assert.equal(await adapter('DeviceCode').find('dc-1'), undefined);
    assert.equal(await adapter('DeviceCode').findByUserCode('BCDFGHJK'), undefined);
    // Hidden, not yet deleted: deleting is the sweeper's job.
    assert.equal(await rowCount(), 3);
  });

  it('hides a row inserted with an expiry already in the past', async () => {
    await insertExpired('AuthorizationCode', 'code-1', SAMPLES.AuthorizationCode);
    assert.equal(await adapter('AuthorizationCode').find('code-1'), undefined);
  });

  it('never expires a row upserted without expiresIn', async () => {
    await adapter('InitialAccessToken').upsert('iat-1', SAMPLES.InitialAccessToken);
    const row = await db('oidc_payloads')
      .where({ model: 'InitialAccessToken', id: artefactDigest('iat-1') })
      .first('expires_at');
    assert.equal(row.expires_at, null);
    assert.deepEqual(await adapter('InitialAccessToken').find('iat-1'), SAMPLES.InitialAccessToken);
    assert.equal(await sweepExpired(db), 0);
    assert.deepEqual(await adapter('InitialAccessToken').find('iat-1'), SAMPLES.InitialAccessToken);
  });
});

describe('KnexAdapter: consume', () => {
  it('marks the row consumed with epoch seconds and leaves other rows alone', async () => {
    const codes = adapter('AuthorizationCode');
    const other: AdapterPayload = { ...SAMPLES.AuthorizationCode, jti: 'code-2' };
    await codes.upsert('code-1', SAMPLES.AuthorizationCode, 60);
    await codes.upsert('code-2', other, 60);
    const sameId: AdapterPayload = { ...SAMPLES.AccessToken, jti: 'code-1' };
    await adapter('AccessToken').upsert('code-1', sameId, 60); // same id, other model

    const before = nowEpoch();
    await codes.consume('code-1');
    const after = nowEpoch();

    const consumed = await codes.find('code-1');
    assert.ok(consumed);
    assert.equal(typeof consumed.consumed, 'number');
    assert.ok(Number.isInteger(consumed.consumed), `consumed ${consumed.consumed} is whole seconds`);
    // Epoch seconds, not milliseconds (the database clock and ours are the same machine's; 5 s slack).
    assert.ok(consumed.consumed >= before - 5 && consumed.consumed <= after + 5, `consumed ${consumed.consumed} near ${before}`);
    const { consumed: _consumed, ...rest } = consumed;
    assert.deepEqual(rest, SAMPLES.AuthorizationCode);

    assert.deepEqual(await codes.find('code-2'), other);
    assert.deepEqual(await adapter('AccessToken').find('code-1'), sameId);
  });

  it('shows the consumed mark through findByUserCode and findByUid too', async () => {
    await adapter('DeviceCode').upsert('dc-1', SAMPLES.DeviceCode, 600);
    await adapter('Session').upsert('sess-1', SAMPLES.Session, 600);
    await adapter('DeviceCode').consume('dc-1');
    await adapter('Session').consume('sess-1');
    assert.equal(typeof (await adapter('DeviceCode').findByUserCode('BCDFGHJK'))?.consumed, 'number');
    assert.equal(typeof (await adapter('Session').findByUid('session-uid-1'))?.consumed, 'number');
  });

  it('consume of an unknown id is refused as not found (no replay) and creates nothing', async () => {
    await assert.rejects(adapter('AuthorizationCode').consume('no-such-code'), (error: Error & { error_detail?: string }) => {
      assert.equal(error instanceof ConcurrentReplayError, false);
      assert.equal(error.error_detail, 'authorization code not found');
      return true;
    });
    assert.equal(await rowCount(), 0);
    assert.equal(await adapter('AuthorizationCode').find('no-such-code'), undefined);
  });
});

describe('KnexAdapter: refresh token rotation', () => {
  const refreshTokens = () => adapter('RefreshToken');
  const replacement = (n: number): AdapterPayload => ({ ...SAMPLES.RefreshToken, jti: `rt-new-${n}`, rotations: 1 });
  const replacementRow = (n: number) => ({
    model: 'RefreshToken',
    id: artefactDigest(`rt-new-${n}`),
    payload: JSON.stringify(replacement(n)),
    grantId: null,
    userCode: null,
    uid: null,
    expiresAt: new Date(Date.now() + 600_000),
  });

  it('in a provider request, consumes the old token and saves its replacement in one statement', async () => {
    await refreshTokens().upsert('rt-old', SAMPLES.RefreshToken, 600);
    const statements = await countStatements(/./, () =>
      withReadAhead(async () => {
        await refreshTokens().consume('rt-old');
        await refreshTokens().upsert('rt-new-1', replacement(1), 600);
      }),
    );
    assert.equal(statements, 1);
    assert.equal(typeof (await refreshTokens().find('rt-old'))?.consumed, 'number');
    assert.deepEqual(await refreshTokens().find('rt-new-1'), replacement(1));
  });

  it('of two requests rotating one token at once, saves one replacement; the other save is a replay', async () => {
    await refreshTokens().upsert('rt-old', SAMPLES.RefreshToken, 600);
    const rotate = (n: number) =>
      withReadAhead(async () => {
        await refreshTokens().consume('rt-old');
        await refreshTokens().upsert(`rt-new-${n}`, replacement(n), 600);
      });
    const results = await Promise.allSettled([rotate(1), rotate(2)]);
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(lost.length, 1);
    assert.ok((lost[0] as PromiseRejectedResult).reason instanceof ConcurrentReplayError);
    // The loser revoked the grant, as a replay does: nothing of it is left, not even the winner's token.
    assert.deepEqual(await rowKeys(), []);
  });

  it('consumes nothing when the replacement is never saved (nothing was issued in its place)', async () => {
    await refreshTokens().upsert('rt-old', SAMPLES.RefreshToken, 600);
    await withReadAhead(async () => {
      await refreshTokens().consume('rt-old');
    });
    assert.equal((await refreshTokens().find('rt-old'))?.consumed, undefined);
  });

  it('writes the replacement of only the first of several callers consuming one token in one statement', async () => {
    await refreshTokens().upsert('rt-old', SAMPLES.RefreshToken, 600);
    const writer = payloadWriterFor(db);
    const oldId = artefactDigest('rt-old');
    const [, ...won] = await Promise.all([
      adapter('AccessToken').upsert('at-first', SAMPLES.AccessToken, 600), // goes alone; the rest wait together
      ...[1, 2, 3].map((n) => writer.consumeThenWrite('RefreshToken', oldId, replacementRow(n))),
    ]);
    assert.deepEqual(won, [true, false, false]);
    assert.deepEqual(await rowKeys(), stored('AccessToken:at-first', 'RefreshToken:rt-new-1', 'RefreshToken:rt-old'));
  });

  it('shares one statement with the writes around it, two writes of one row among them', async () => {
    await refreshTokens().upsert('rt-old', SAMPLES.RefreshToken, 600);
    const writer = payloadWriterFor(db);
    const sessions = adapter('Session');
    let won: boolean | undefined;
    const statements = await countStatements(/./, async () => {
      await Promise.all([
        adapter('AccessToken').upsert('at-first', SAMPLES.AccessToken, 600), // goes alone
        sessions.upsert('sess-1', { ...SAMPLES.Session, accountId: 'first' }, 600),
        sessions.upsert('sess-1', { ...SAMPLES.Session, accountId: 'second' }, 600),
        writer.consumeThenWrite('RefreshToken', artefactDigest('rt-old'), replacementRow(1)).then((value) => {
          won = value;
        }),
      ]);
    });
    assert.equal(statements, 2);
    assert.equal(won, true);
    assert.equal((await sessions.find('sess-1'))?.accountId, 'second');
    assert.deepEqual(await refreshTokens().find('rt-new-1'), replacement(1));
    assert.equal(typeof (await refreshTokens().find('rt-old'))?.consumed, 'number');
  });

  it("still writes only the winner's replacement when a refused row splits the statement", async () => {
    await refreshTokens().upsert('rt-old', SAMPLES.RefreshToken, 600);
    await adapter('DeviceCode').upsert('dc-1', SAMPLES.DeviceCode, 600);
    const writer = payloadWriterFor(db);
    const oldId = artefactDigest('rt-old');
    const results = await Promise.allSettled([
      adapter('AccessToken').upsert('at-first', SAMPLES.AccessToken, 600), // goes alone
      writer.consumeThenWrite('RefreshToken', oldId, replacementRow(1)),
      adapter('DeviceCode').upsert('dc-2', { ...SAMPLES.DeviceCode, jti: 'dc-2' }, 600), // same user code as dc-1
      writer.consumeThenWrite('RefreshToken', oldId, replacementRow(2)),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : 'refused')),
      [undefined, true, 'refused', false],
    );
    assert.deepEqual(await rowKeys(), stored('AccessToken:at-first', 'DeviceCode:dc-1', 'RefreshToken:rt-new-1', 'RefreshToken:rt-old'));
  });

  it('takes a consume back with its refused successor, and still makes the others', async () => {
    await refreshTokens().upsert('rt-a', { ...SAMPLES.RefreshToken, jti: 'rt-a' }, 600);
    await refreshTokens().upsert('rt-b', { ...SAMPLES.RefreshToken, jti: 'rt-b' }, 600);
    await adapter('DeviceCode').upsert('dc-1', SAMPLES.DeviceCode, 600);
    const writer = payloadWriterFor(db);
    // A successor the database refuses: it takes the user code dc-1 already holds.
    const refused = {
      model: 'DeviceCode',
      id: artefactDigest('dc-2'),
      payload: JSON.stringify({ ...SAMPLES.DeviceCode, jti: 'dc-2' }),
      grantId: null,
      userCode: artefactDigest(String(SAMPLES.DeviceCode.userCode)),
      uid: null,
      expiresAt: new Date(Date.now() + 600_000),
    };
    const results = await Promise.allSettled([
      adapter('AccessToken').upsert('at-first', SAMPLES.AccessToken, 600), // goes alone
      writer.consumeThenWrite('RefreshToken', artefactDigest('rt-a'), refused),
      writer.consumeThenWrite('RefreshToken', artefactDigest('rt-b'), replacementRow(1)),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as { code?: string }).code)),
      [undefined, '23505', true],
    );
    assert.equal((await refreshTokens().find('rt-a'))?.consumed, undefined, 'rt-a is still usable: nothing replaced it');
    assert.equal(typeof (await refreshTokens().find('rt-b'))?.consumed, 'number');
    assert.deepEqual(await refreshTokens().find('rt-new-1'), replacement(1));
  });
});

describe('KnexAdapter: destroy', () => {
  it('removes only that row', async () => {
    await adapter('AccessToken').upsert('at-1', SAMPLES.AccessToken, 3600);
    await adapter('AccessToken').upsert('at-2', { ...SAMPLES.AccessToken, jti: 'at-2' }, 3600);
    await adapter('RefreshToken').upsert('at-1', { ...SAMPLES.RefreshToken, jti: 'at-1' }, 3600);

    await adapter('AccessToken').destroy('at-1');

    assert.equal(await adapter('AccessToken').find('at-1'), undefined);
    assert.deepEqual(await rowKeys(), stored('AccessToken:at-2', 'RefreshToken:at-1'));
    // Destroying what is not there is not an error.
    await adapter('AccessToken').destroy('at-1');
    assert.equal(await rowCount(), 2);
  });
});

describe('KnexAdapter: findByUserCode and findByUid', () => {
  it('finds a DeviceCode by its user code', async () => {
    await adapter('DeviceCode').upsert('dc-1', SAMPLES.DeviceCode, 600);
    assert.deepEqual(await adapter('DeviceCode').findByUserCode('BCDFGHJK'), SAMPLES.DeviceCode);
    assert.equal(await adapter('DeviceCode').findByUserCode('ZZZZZZZZ'), undefined);
    // Scoped to the model.
    assert.equal(await adapter('BackchannelAuthenticationRequest').findByUserCode('BCDFGHJK'), undefined);
  });

  it('does not find an expired DeviceCode by its user code', async () => {
    await insertExpired('DeviceCode', 'dc-old', { ...SAMPLES.DeviceCode, jti: 'dc-old', userCode: 'OLDCODE1' });
    assert.equal(await adapter('DeviceCode').findByUserCode('OLDCODE1'), undefined);
  });

  it('finds a Session by its uid', async () => {
    await adapter('Session').upsert('sess-1', SAMPLES.Session, 600);
    assert.deepEqual(await adapter('Session').findByUid('session-uid-1'), SAMPLES.Session);
    assert.equal(await adapter('Session').findByUid('no-such-uid'), undefined);
    assert.equal(await adapter('Interaction').findByUid('session-uid-1'), undefined);
  });

  it('does not find an expired Session by its uid', async () => {
    await insertExpired('Session', 'sess-old', { ...SAMPLES.Session, jti: 'sess-old', uid: 'old-uid' });
    assert.equal(await adapter('Session').findByUid('old-uid'), undefined);
  });
});

describe('KnexAdapter: revokeByGrantId', () => {
  it("deletes that model's rows of that grant only", async () => {
    const tokens = adapter('AccessToken');
    await tokens.upsert('at-g1-a', { ...SAMPLES.AccessToken, jti: 'at-g1-a', grantId: 'g1' }, 3600);
    await tokens.upsert('at-g1-b', { ...SAMPLES.AccessToken, jti: 'at-g1-b', grantId: 'g1' }, 3600);
    await tokens.upsert('at-g2', { ...SAMPLES.AccessToken, jti: 'at-g2', grantId: 'g2' }, 3600);
    await tokens.upsert('at-none', { ...SAMPLES.AccessToken, jti: 'at-none', grantId: undefined }, 3600);
    await adapter('RefreshToken').upsert('rt-g1', { ...SAMPLES.RefreshToken, jti: 'rt-g1', grantId: 'g1' }, 3600);
    await adapter('AuthorizationCode').upsert('code-g1', { ...SAMPLES.AuthorizationCode, jti: 'code-g1', grantId: 'g1' }, 60);

    await tokens.revokeByGrantId('g1');

    assert.deepEqual(
      await rowKeys(),
      stored('AccessToken:at-g2', 'AccessToken:at-none', 'AuthorizationCode:code-g1', 'RefreshToken:rt-g1'),
    );
    assert.equal(await tokens.find('at-g1-a'), undefined);
    assert.equal((await tokens.find('at-g2'))?.grantId, 'g2');
    assert.equal((await adapter('RefreshToken').find('rt-g1'))?.grantId, 'g1');
  });
});

describe('KnexAdapter: unique lookups', () => {
  it('refuses a second DeviceCode with the same user code (database index)', async () => {
    await adapter('DeviceCode').upsert('dc-1', SAMPLES.DeviceCode, 600);
    await assert.rejects(
      adapter('DeviceCode').upsert('dc-2', { ...SAMPLES.DeviceCode, jti: 'dc-2' }, 600),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, '23505'); // unique_violation
        assert.match(error.message, /oidc_payloads_user_code/);
        return true;
      },
    );
    assert.deepEqual(await rowKeys(), stored('DeviceCode:dc-1'));
    assert.deepEqual(await adapter('DeviceCode').findByUserCode('BCDFGHJK'), SAMPLES.DeviceCode);
  });

  it('refuses a second Session with the same uid (database index)', async () => {
    await adapter('Session').upsert('sess-1', SAMPLES.Session, 600);
    await assert.rejects(adapter('Session').upsert('sess-2', { ...SAMPLES.Session, jti: 'sess-2' }, 600), { code: '23505' });
    assert.deepEqual(await rowKeys(), stored('Session:sess-1'));
  });
});

describe('KnexAdapter: group commit of concurrent writes', () => {
  const token = (n: number): [string, AdapterPayload] => [`at-${n}`, { ...SAMPLES.AccessToken, jti: `at-${n}`, grantId: `grant-${n}` }];

  it('commits rows that arrive while a statement runs together, and every caller sees its row', async () => {
    const tokens = adapter('AccessToken');
    const rows = Array.from({ length: 50 }, (_, n) => token(n));
    // The first row goes at once; the 49 that arrive while it is in flight share the next statement.
    const statements = await countStatements(/^insert into oidc_payloads/, () =>
      Promise.all(rows.map(([id, payload]) => tokens.upsert(id, payload, 600))),
    );
    assert.equal(statements, 2);
    assert.equal(await rowCount(), 50);
    for (const [id, payload] of rows) assert.deepEqual(await tokens.find(id), payload);
    const grantIds = await db('oidc_payloads').whereNotNull('grant_id').count<{ count: string | number }[]>('* as count');
    assert.equal(Number(grantIds[0].count), 50, 'lookup columns are written for every row of a statement');
  });

  it('splits a burst larger than one statement takes (200 rows) into several', async () => {
    const tokens = adapter('AccessToken');
    const rows = Array.from({ length: 450 }, (_, n) => token(n));
    const statements = await countStatements(/^insert into oidc_payloads/, () =>
      Promise.all(rows.map(([id, payload]) => tokens.upsert(id, payload, 600))),
    );
    assert.equal(statements, 4); // 1, then 200, 200 and 49
    assert.equal(await rowCount(), 450);
  });

  it('keeps the last of two concurrent writes of the same row, in the order they were made', async () => {
    const sessions = adapter('Session');
    await Promise.all([
      sessions.upsert('sess-1', SAMPLES.Session, 600), // goes alone
      sessions.upsert('sess-2', { ...SAMPLES.Session, jti: 'sess-2', uid: 'uid-2', accountId: 'first' }, 600),
      sessions.upsert('sess-2', { ...SAMPLES.Session, jti: 'sess-2', uid: 'uid-2b', accountId: 'second' }, 60),
    ]);
    assert.equal((await sessions.find('sess-2'))?.accountId, 'second');
    assert.equal((await sessions.findByUid('uid-2b'))?.jti, 'sess-2');
    assert.equal(await sessions.findByUid('uid-2'), undefined);
    assert.deepEqual(await rowKeys(), stored('Session:sess-1', 'Session:sess-2'));
  });

  it('fails only the row the database refuses; the rest of its statement commits', async () => {
    const codes = adapter('DeviceCode');
    const tokens = adapter('AccessToken');
    const results = await Promise.allSettled([
      tokens.upsert('at-first', { ...SAMPLES.AccessToken, jti: 'at-first' }, 600), // goes alone
      codes.upsert('dc-1', SAMPLES.DeviceCode, 600),
      tokens.upsert('at-a', { ...SAMPLES.AccessToken, jti: 'at-a' }, 600),
      codes.upsert('dc-2', { ...SAMPLES.DeviceCode, jti: 'dc-2' }, 600), // same user code as dc-1
      tokens.upsert('at-b', { ...SAMPLES.AccessToken, jti: 'at-b' }, 600),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal(((results[3] as PromiseRejectedResult).reason as { code?: string }).code, '23505');
    assert.deepEqual(await rowKeys(), stored('AccessToken:at-a', 'AccessToken:at-b', 'AccessToken:at-first', 'DeviceCode:dc-1'));
  });

  // Named prepared statements exist only on a PostgreSQL server; the embedded database always
  // sends the statement text, so there is no fallback to take there.
  const onServer = Boolean(process.env.DATABASE_URL);
  it('writes with plain statements where the session already holds a statement of that name', {
    skip: !onServer && 'PGlite never prepares named statements (CI runs this on PostgreSQL)',
  }, async () => {
    // What a pooler in transaction mode, or a server that shares one session, looks like: the
    // connection's session knows a prepared statement this connection never made. One
    // connection, so the session prepared here is the writer's.
    const single = await openDatabase({ databaseUrl: database.url as string, poolMax: 1 });
    try {
      await single.db.raw('prepare gatehouse_upsert_payloads as select 1');
      const writer = payloadWriterFor(single.db);
      assert.equal(writer.usesPreparedStatements, true);
      const tokens = new KnexAdapter('AccessToken', single.db, protection);
      for (const [id, payload] of [token(1), token(2)]) await tokens.upsert(id, payload, 600);
      assert.equal(writer.usesPreparedStatements, false, 'the writer fell back to plain statements');
      assert.deepEqual(await tokens.find('at-1'), token(1)[1]);
      assert.deepEqual(await tokens.find('at-2'), token(2)[1]);
    } finally {
      await single.db.raw('deallocate gatehouse_upsert_payloads');
      await single.close();
    }
  });

  it('writes the row of a caller who arrives just as the previous write settles', async () => {
    // Each write starts on the heels of the last one, while the writer is still giving its
    // connection back: none may be left waiting.
    const tokens = adapter('AccessToken');
    for (let n = 0; n < 20; n++) await tokens.upsert(...token(n), 600);
    assert.equal(await rowCount(), 20);
  });

  it('round-trips values that need quoting inside a statement of several rows', async () => {
    const interactions = adapter('Interaction');
    const awkward = ['quote " and backslash \\', 'comma, {braces} and (parens)', "apostrophe ' and NULL", 'unicode é 東京 🔑', ''];
    const rows = awkward.map((text, n): [string, AdapterPayload] => [
      `int-${n} ${text}`,
      { ...SAMPLES.Interaction, jti: `int-${n} ${text}`, uid: `uid ${text} ${n}`, params: { state: text } },
    ]);
    await Promise.all([
      interactions.upsert('int-first', SAMPLES.Interaction, 600),
      ...rows.map(([id, payload]) => interactions.upsert(id, payload, 600)),
    ]);
    for (const [id, payload] of rows) {
      assert.deepEqual(await interactions.find(id), payload);
      // Found by uid, not by its value: an interaction's value is not kept (see storedArtefacts.ts).
      const { jti: _value, ...withoutValue } = payload;
      assert.deepEqual(await interactions.findByUid(payload.uid as string), withoutValue);
    }
  });
});

describe('sweepExpired', () => {
  it('deletes expired rows in batches and keeps live and permanent rows', async () => {
    await insertExpired('AccessToken', 'old-1');
    await insertExpired('AccessToken', 'old-2');
    await insertExpired('AuthorizationCode', 'old-3');
    await insertExpired('Session', 'old-4', { jti: 'old-4', uid: 'old-uid' });
    await insertExpired('DeviceCode', 'old-5', { jti: 'old-5', userCode: 'OLDCODE1' });
    await adapter('AccessToken').upsert('live-1', { jti: 'live-1' }, 3600);
    await adapter('Session').upsert('live-2', { jti: 'live-2', uid: 'live-uid' }, 3600);
    await adapter('Grant').upsert('forever-1', { jti: 'forever-1' });
    await adapter('InitialAccessToken').upsert('forever-2', { jti: 'forever-2' });

    assert.equal(await sweepExpired(db, 2), 5);

    assert.deepEqual(await rowKeys(), stored('AccessToken:live-1', 'Grant:forever-1', 'InitialAccessToken:forever-2', 'Session:live-2'));
    assert.equal(await sweepExpired(db, 2), 0);
  });

  it('stops when a batch is exactly full and the next one is empty', async () => {
    for (const id of ['a', 'b', 'c', 'd']) await insertExpired('ReplayDetection', id);
    await adapter('ReplayDetection').upsert('live', { jti: 'live' }, 60);
    assert.equal(await sweepExpired(db, 2), 4);
    assert.deepEqual(await rowKeys(), stored('ReplayDetection:live'));
  });

  it('sweeps with the default batch size', async () => {
    await insertExpired('AccessToken', 'old-1');
    await insertExpired('RefreshToken', 'old-1');
    await adapter('AccessToken').upsert('live', { jti: 'live' }, 60);
    assert.equal(await sweepExpired(db), 2);
    assert.deepEqual(await rowKeys(), stored('AccessToken:live'));
  });
});

describe('Client model through knexAdapterFactory', () => {
  const factory = () => knexAdapterFactory(db, createClientStore(db, box), box);
  const clientRow = (clientId: string): Promise<ClientRow | undefined> => db<ClientRow>('clients').where('client_id', clientId).first();

  const basicClient = {
    client_id: 'web-app',
    client_secret: 'Xq7sS9c1fQ2b8N0kTzR4uVwY6mLpEeHgJjKaDdFiOo3',
    client_name: 'Web App',
    redirect_uris: ['https://rp.example.test/cb', 'https://rp.example.test/cb2'],
    post_logout_redirect_uris: ['https://rp.example.test/bye'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  } as const;

  it('hands the Client model to the client store and every other model to KnexAdapter', () => {
    const store = createClientStore(db, box);
    const adapters = knexAdapterFactory(db, store, box);
    assert.equal(adapters('Client'), store.adapter);
    assert.ok(adapters('AccessToken') instanceof KnexAdapter);
  });

  it('stores a client_secret_basic secret as a SHA-256 digest and still matches it', async () => {
    const clients = factory()('Client');
    await clients.upsert('web-app', { ...basicClient } as AdapterPayload);

    const row = await clientRow('web-app');
    assert.ok(row);
    const stored = row.client_secret;
    assert.ok(stored);
    assert.ok(stored.startsWith('sha256:'), `stored ${stored}`);
    assert.notEqual(stored, basicClient.client_secret);
    assert.ok(!stored.includes(basicClient.client_secret));
    assert.equal(row.registered_by, 'dynamic_registration');
    assert.deepEqual(row.redirect_uris, basicClient.redirect_uris);

    const found = await clients.find('web-app');
    assert.ok(found);
    assert.equal(found.client_id, 'web-app');
    assert.equal(found.client_name, 'Web App');
    assert.deepEqual(found.redirect_uris, basicClient.redirect_uris);
    assert.deepEqual(found.post_logout_redirect_uris, basicClient.post_logout_redirect_uris);
    assert.deepEqual(found.grant_types, basicClient.grant_types);
    assert.deepEqual(found.response_types, basicClient.response_types);
    assert.equal(found.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal(found.id_token_signed_response_alg, 'RS256');
    assert.equal(found.client_secret, stored); // the digest, never the plain secret

    assert.equal(matchesClientSecret(stored, basicClient.client_secret), true);
    assert.equal(matchesClientSecret(stored, `${basicClient.client_secret}x`), false);
    assert.equal(matchesClientSecret(stored, 'wrong-secret'), false);
    assert.equal(matchesClientSecret(stored, stored), false); // the digest is not the secret
    assert.equal(matchesClientSecret(undefined, basicClient.client_secret), false);
    // A damaged digest matches nothing rather than throwing.
    assert.equal(matchesClientSecret(stored.slice(0, -2), basicClient.client_secret), false);
    assert.equal(matchesClientSecret('sha256:not-hex', basicClient.client_secret), false);
  });

  it('keeps the digest when the found metadata is written back (RFC 7592 update)', async () => {
    const clients = factory()('Client');
    await clients.upsert('web-app', { ...basicClient } as AdapterPayload);
    const digest = (await clientRow('web-app'))?.client_secret;

    const found = await clients.find('web-app');
    assert.ok(found);
    await clients.upsert('web-app', { ...found, client_name: 'Renamed' });

    const row = await clientRow('web-app');
    assert.equal(row?.client_secret, digest);
    assert.equal(row?.client_name, 'Renamed');
    assert.equal(matchesClientSecret(row?.client_secret ?? undefined, basicClient.client_secret), true);
  });

  it('stores a client_secret_jwt secret encrypted and gives the plain secret back', async () => {
    const clients = factory()('Client');
    const secret = 'jwt-secret-7d1c0f2e9b8a4c3d5e6f708192a3b4c5d6e7f8091a2b3c4d';
    await clients.upsert('jwt-app', {
      client_id: 'jwt-app',
      client_secret: secret,
      redirect_uris: ['https://jwt.example.test/cb'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_jwt',
    } as AdapterPayload);

    const stored = (await clientRow('jwt-app'))?.client_secret;
    assert.ok(stored);
    assert.ok(stored.startsWith('enc:'), `stored ${stored}`);
    assert.ok(!stored.includes(secret));

    const found = await clients.find('jwt-app');
    assert.equal(found?.client_secret, secret);
    assert.equal(found?.token_endpoint_auth_method, 'client_secret_jwt');
    assert.deepEqual(found?.redirect_uris, ['https://jwt.example.test/cb']);
    assert.equal(matchesClientSecret(found?.client_secret, secret), true);
    assert.equal(matchesClientSecret(found?.client_secret, 'wrong-secret'), false);

    // Written back as found, it stays encrypted and still opens to the same secret.
    await clients.upsert('jwt-app', { ...found } as AdapterPayload);
    const again = await clientRow('jwt-app');
    assert.ok(again?.client_secret?.startsWith('enc:'));
    assert.equal((await clients.find('jwt-app'))?.client_secret, secret);
  });

  it('encrypts the secret of a client that signs with an HS* algorithm', async () => {
    const clients = factory()('Client');
    await clients.upsert('hs-app', {
      client_id: 'hs-app',
      client_secret: 'hs-secret-0123456789abcdef0123456789abcdef',
      redirect_uris: ['https://hs.example.test/cb'],
      id_token_signed_response_alg: 'HS256',
    } as AdapterPayload);
    assert.ok((await clientRow('hs-app'))?.client_secret?.startsWith('enc:'));
    assert.equal((await clients.find('hs-app'))?.client_secret, 'hs-secret-0123456789abcdef0123456789abcdef');
  });

  it('find of an unknown client returns undefined', async () => {
    assert.equal(await factory()('Client').find('no-such-client'), undefined);
  });

  it('destroy removes only that client', async () => {
    const clients = factory()('Client');
    await clients.upsert('web-app', { ...basicClient } as AdapterPayload);
    await clients.upsert('other-app', { ...basicClient, client_id: 'other-app' } as AdapterPayload);

    await clients.destroy('web-app');

    assert.equal(await clients.find('web-app'), undefined);
    assert.equal(await clientRow('web-app'), undefined);
    assert.equal((await clients.find('other-app'))?.client_id, 'other-app');
  });
});

describe('KnexAdapter: no usable credential at rest', () => {
  const interaction: AdapterPayload = {
    ...SAMPLES.Interaction,
    deviceCode: 'device-code-value-1',
    parJti: 'par-value-1',
    session: { accountId: 'user-1', uid: 'session-uid-1', cookie: 'session-cookie-value-1' },
  };

  it('stores neither the value of any artefact nor a user code nor a credential an interaction carries', async () => {
    for (const [model, payload] of Object.entries(SAMPLES)) await adapter(model).upsert(payload.jti as string, payload, 3600);
    await adapter('Interaction').upsert('int-with-secrets', { ...interaction, jti: 'int-with-secrets' }, 3600);
    const dump = JSON.stringify(await db('oidc_payloads').select('*'));
    // Two ids are no credential and stay readable: an interaction's own id, in its resume URL
    // (resuming takes the interaction cookie, which only our cookie keys sign), and a grant's
    // id, which tokens name (no endpoint accepts a grant id).
    const values = Object.values(SAMPLES).filter((p) => p.kind !== 'Interaction' && p.kind !== 'Grant');
    const secrets = [...values.map((p) => p.jti as string), 'BCDFGHJK', 'device-code-value-1', 'par-value-1', 'session-cookie-value-1'];
    for (const secret of secrets) assert.equal(dump.includes(secret), false, `the table holds ${secret}`);
    // …and everything still reads back whole.
    assert.deepEqual(await adapter('Interaction').find('int-with-secrets'), { ...interaction, jti: 'int-with-secrets' });
    assert.deepEqual(await adapter('Session').findByUid('session-uid-1'), SAMPLES.Session);
    assert.deepEqual(await adapter('DeviceCode').findByUserCode('BCDFGHJK'), SAMPLES.DeviceCode);
  });

  it('treats a row whose sealed fields were copied from another row as gone', async () => {
    await adapter('Session').upsert('sess-1', SAMPLES.Session, 600);
    await adapter('Session').upsert('sess-2', { ...SAMPLES.Session, jti: 'sess-2', uid: 'uid-2' }, 600);
    const source = await db('oidc_payloads')
      .where({ model: 'Session', id: artefactDigest('sess-1') })
      .first('payload');
    await db('oidc_payloads')
      .where({ model: 'Session', id: artefactDigest('sess-2') })
      .update({ payload: JSON.stringify({ ...source.payload, uid: 'uid-2' }) });
    assert.equal(await adapter('Session').findByUid('uid-2'), undefined);
    assert.equal((await adapter('Session').findByUid('session-uid-1'))?.jti, 'sess-1');
  });
});

describe('KnexAdapter: single use under concurrency', () => {
  const PARALLEL = 8;

  async function seedGrant() {
    await adapter('Grant').upsert('grant-1', SAMPLES.Grant, 3600);
    await adapter('AuthorizationCode').upsert('code-1', SAMPLES.AuthorizationCode, 60);
    await adapter('AccessToken').upsert('at-1', SAMPLES.AccessToken, 3600);
    await adapter('RefreshToken').upsert('rt-1', SAMPLES.RefreshToken, 3600);
    await adapter('AccessToken').upsert('at-other', { ...SAMPLES.AccessToken, jti: 'at-other', grantId: 'grant-2' }, 3600);
  }

  it('lets exactly one of N parallel consumes of a code win; the others revoke its grant and every token of it', async () => {
    await seedGrant();
    const codes = Array.from({ length: PARALLEL }, () => adapter('AuthorizationCode'));
    const results = await Promise.allSettled(codes.map((a) => a.consume('code-1')));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    // The first loser to finish revokes the grant, code included; a loser after it finds nothing
    // left. Which of them finishes first is the database's choice, not the array's order.
    const losers = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    assert.ok(losers.some((error) => error instanceof ConcurrentReplayError));
    for (const error of losers) {
      assert.equal(error.error, 'invalid_grant');
      assert.equal(
        error.error_detail,
        error instanceof ConcurrentReplayError ? 'authorization code already consumed' : 'authorization code not found',
      );
    }
    assert.deepEqual(await rowKeys(), stored('AccessToken:at-other'), 'the grant, its code and its tokens are gone');
  });

  it('answers a refresh token consumed twice with the words of a sequential reuse', async () => {
    await seedGrant();
    await adapter('RefreshToken').consume('rt-1');
    await assert.rejects(adapter('RefreshToken').consume('rt-1'), {
      name: 'ConcurrentReplayError',
      error: 'invalid_grant',
      error_detail: 'refresh token already used',
      grantId: 'grant-1',
    });
    assert.equal(await adapter('Grant').find('grant-1'), undefined);
  });

  it('answers a pushed request consumed twice with invalid_request_uri', async () => {
    await adapter('PushedAuthorizationRequest').upsert('par-1', SAMPLES.PushedAuthorizationRequest, 60);
    const results = await Promise.allSettled(
      Array.from({ length: PARALLEL }, () => adapter('PushedAuthorizationRequest').consume('par-1')),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const result of results.filter((r) => r.status === 'rejected'))
      assert.equal((result as PromiseRejectedResult).reason.error, 'invalid_request_uri');
  });

  it('settles consumes that share a statement with writes, also when one written row is refused', async () => {
    await seedGrant();
    await adapter('DeviceCode').upsert('dc-1', SAMPLES.DeviceCode, 600);
    const writer = payloadWriterFor(db);
    await writer.whenIdle();
    let combined = 0;
    const listener = (query: { sql: string }) => {
      if (/^with consumed as/.test(query.sql)) combined++;
    };
    db.on('query', listener);
    try {
      const results = await Promise.allSettled([
        adapter('AccessToken').upsert('at-first', { ...SAMPLES.AccessToken, jti: 'at-first', grantId: 'grant-9' }, 600), // goes alone
        adapter('AuthorizationCode').consume('code-1'),
        adapter('AuthorizationCode').consume('code-1'), // same row, same statement: loses
        adapter('AccessToken').upsert('at-a', { ...SAMPLES.AccessToken, jti: 'at-a', grantId: 'grant-9' }, 600),
        adapter('DeviceCode').upsert('dc-2', { ...SAMPLES.DeviceCode, jti: 'dc-2' }, 600), // same user code as dc-1: refused
        adapter('RefreshToken').consume('rt-1'),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
      );
      assert.ok((results[2] as PromiseRejectedResult).reason instanceof ConcurrentReplayError);
      assert.equal(((results[4] as PromiseRejectedResult).reason as { code?: string }).code, '23505');
    } finally {
      db.off('query', listener);
    }
    assert.ok(combined >= 1, 'consumes and writes went out in one statement');
    // The code's loser then revoked grant-1: its code, token and refresh token went with it.
    assert.deepEqual(await rowKeys(), stored('AccessToken:at-a', 'AccessToken:at-first', 'AccessToken:at-other', 'DeviceCode:dc-1'));
  });

  it('lets one of N parallel replay-detection writes of one id in, and refuses the rest and any later one', async () => {
    const replay = adapter('ReplayDetection');
    const results = await Promise.allSettled(
      Array.from({ length: PARALLEL }, () => replay.upsert('replay-1', SAMPLES.ReplayDetection, 60)),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const result of results.filter((r) => r.status === 'rejected'))
      assert.ok((result as PromiseRejectedResult).reason instanceof DuplicateArtefactError);
    await assert.rejects(replay.upsert('replay-1', SAMPLES.ReplayDetection, 60), DuplicateArtefactError);
    await replay.upsert('replay-2', { ...SAMPLES.ReplayDetection, jti: 'replay-2' }, 60);
    assert.deepEqual(await rowKeys(), stored('ReplayDetection:replay-1', 'ReplayDetection:replay-2'));
  });
});
