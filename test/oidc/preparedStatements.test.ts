// On a PostgreSQL server the artefact writer sends a named prepared statement. Where the
// database session does not keep it (a pooler in transaction mode hands the next transaction
// another session; a server restarted its sessions), the writer must notice, fall back to plain
// statements, and lose no write. This runs on every database: on a scratch database of the
// server with DATABASE_URL, and otherwise on PGlite over the wire protocol (pglite-socket), where
// the pg driver, and so the prepared statement, are used as on a server. One connection in the
// pool, so the session the test empties is the writer's.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import winston from 'winston';
import { logger } from '../../src/http/logger.ts';
import { openDatabase, type Database } from '../../src/db/index.ts';
import { createScratchDatabase } from '../helpers/database.ts';
import { pgliteOverTcp } from '../helpers/pgliteSocket.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { Browser } from '../helpers/browserForm.ts';
import { createClient } from '../helpers/fixtures.ts';
import { authorizationRequest, discover } from '../helpers/relyingParty.ts';
import type * as client from 'openid-client';

const FALLBACK_WARNING = 'database sessions do not keep prepared statements; artefacts are written with plain statements';

describe('artefact writes when the database session loses its prepared statements', () => {
  let wire: { url: string; dispose(): Promise<void> };
  let database: Database;
  let server: TestServer;
  let config: client.Configuration;
  const warnings: string[] = [];
  const capture = new winston.transports.Stream({
    stream: new Writable({
      write(chunk, _encoding, done) {
        const line = JSON.parse(chunk.toString()) as { level: string; message: string };
        if (line.level === 'warn') warnings.push(line.message);
        done();
      },
    }),
  });

  before(async () => {
    const serverUrl = process.env.DATABASE_URL;
    wire = serverUrl ? await createScratchDatabase(serverUrl).then((s) => ({ url: s.url, dispose: s.drop })) : await pgliteOverTcp();
    database = await openDatabase({ databaseUrl: wire.url, poolMax: 1 });
    server = await startTestServer(database, { LOG_LEVEL: 'warn' });
    const registered = await createClient(database, server.config);
    config = await discover(server.issuer, registered.client_id, registered.client_secret as string);
    logger.add(capture);
  });

  after(async () => {
    logger.remove(capture);
    await server?.close();
    await database?.close();
    await wire?.dispose();
  });

  /** Starts a sign-in: the provider stores an Interaction, and the login screen finds it again. */
  async function startSignIn(): Promise<number> {
    const page = await new Browser().navigate((await authorizationRequest(config)).url.toString());
    assert.match(page.html, /<h1 id="page-title">Sign in<\/h1>/);
    return page.status;
  }

  const preparedStatements = async () =>
    ((await database.db.raw('select name from pg_prepared_statements')) as { rows: { name: string }[] }).rows.map((r) => r.name);

  it('falls back to plain statements once, says so, and loses no write', async () => {
    assert.equal(await startSignIn(), 200);
    assert.notDeepEqual(await preparedStatements(), [], 'the first write used a named prepared statement');

    // The session forgets every prepared statement, as a new session behind a pooler has none.
    await database.db.raw('deallocate all');
    assert.equal(await startSignIn(), 200);
    assert.equal(await startSignIn(), 200);

    assert.deepEqual(await preparedStatements(), [], 'the writes after the fallback sent plain statements');
    assert.deepEqual(
      warnings.filter((message) => message === FALLBACK_WARNING),
      [FALLBACK_WARNING],
    );
  });
});
