// SECRET_KEY_PREVIOUS: the key SECRET_KEY replaced, accepted only beside a new SECRET_KEY.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config.ts';

const NEW_KEY = 'n'.repeat(40);
const OLD_KEY = 'o'.repeat(40);

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ DATA_DIR: '/nonexistent-test-data-dir', ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('SECRET_KEY_PREVIOUS', () => {
  it('is a list of previous keys beside the current one', () => {
    const config = loadConfig({ SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: OLD_KEY, DATA_DIR: '/nonexistent-test-data-dir' });
    assert.equal(config.secretKey, NEW_KEY);
    assert.deepEqual(config.previousSecretKeys, [OLD_KEY]);
    assert.deepEqual(
      loadConfig({ SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: '', DATA_DIR: '/x' }).previousSecretKeys,
      [],
      'empty means unset',
    );
  });

  it('names each mistake', () => {
    assert.deepEqual(problems({ SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: 'short' }), [
      'SECRET_KEY_PREVIOUS: SECRET_KEY_PREVIOUS must be at least 32 characters (the SECRET_KEY being replaced)',
    ]);
    assert.deepEqual(problems({ SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: NEW_KEY }), [
      'SECRET_KEY_PREVIOUS: SECRET_KEY_PREVIOUS must differ from SECRET_KEY',
    ]);
    assert.deepEqual(problems({ SECRET_KEY_PREVIOUS: OLD_KEY }), [
      'SECRET_KEY_PREVIOUS: SECRET_KEY_PREVIOUS needs SECRET_KEY set to the new key',
    ]);
  });

  it('leaves the generated development key alone, and can name it as the previous key', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
    try {
      const generated = loadConfig({ DATA_DIR: dataDir });
      assert.deepEqual(generated.previousSecretKeys, []);
      const file = readFileSync(join(dataDir, 'secret.key'), 'utf8').trim();
      assert.equal(generated.secretKey, file);
      const moved = loadConfig({ DATA_DIR: dataDir, SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: file });
      assert.equal(moved.secretKey, NEW_KEY);
      assert.deepEqual(moved.previousSecretKeys, [file]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
