// Keys are encrypted with SECRET_KEY: starting with another key is refused with a clear message
// instead of serving with keys it cannot read, and nothing in the database changes.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer } from '../helpers/server.ts';
import { SecretKeyMismatchError } from '../../src/server.ts';

describe('SECRET_KEY', () => {
  let database: TestDatabase;
  after(async () => database?.dispose());

  it('refuses to start with a key other than the one that encrypted the stored keys', async () => {
    database = await createTestDatabase();
    await (await startTestServer(database)).close();
    const before = await database.db('keys').select('kid', 'secret').orderBy('kid');
    await assert.rejects(
      startTestServer(database, { SECRET_KEY: 'another-secret-key-of-at-least-32-characters' }),
      (error: unknown) =>
        error instanceof SecretKeyMismatchError &&
        error.message === 'SECRET_KEY cannot decrypt the keys stored in the database: it is not the key they were created with.',
    );
    assert.deepEqual(await database.db('keys').select('kid', 'secret').orderBy('kid'), before);
  });
});
