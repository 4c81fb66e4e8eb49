// Configuration: defaults for a newcomer, one message listing every bad setting, and the
// production rules (SECRET_KEY required, https issuer).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config.ts';

const SECRET = 's'.repeat(40);

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  it('works with no settings at all, generating and keeping a development secret', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
    try {
      const config = loadConfig({ DATA_DIR: dataDir });
      assert.equal(config.port, 3000);
      assert.equal(config.issuer, 'http://localhost:3000');
      assert.equal(config.databaseUrl, undefined);
      assert.equal(config.bcryptCost, 12);
      assert.equal(config.logLevel, 'info');
      assert.equal(config.initialAccessToken, undefined);
      assert.ok(config.secretKey.length >= 32);
      assert.equal(readFileSync(join(dataDir, 'secret.key'), 'utf8').trim(), config.secretKey);
      assert.equal(statSync(join(dataDir, 'secret.key')).mode & 0o777, 0o600);
      assert.equal(loadConfig({ DATA_DIR: dataDir }).secretKey, config.secretKey, 'the same secret on the next start');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('reads every setting', () => {
    const config = loadConfig({
      PORT: '8080',
      ISSUER: 'https://id.example.com/',
      DATABASE_URL: 'postgres://u@db/gh',
      SECRET_KEY: SECRET,
      LOG_LEVEL: 'debug',
      INITIAL_ACCESS_TOKEN: 'i'.repeat(20),
      SMTP_URL: 'smtp://mail:25',
      BCRYPT_COST: '10',
      TRUST_PROXY: 'true',
      TRUST_PROXY_HOPS: '2',
      NODE_ENV: 'production',
    });
    assert.equal(config.port, 8080);
    assert.equal(config.issuer, 'https://id.example.com', 'trailing slash removed');
    assert.equal(config.databaseUrl, 'postgres://u@db/gh');
    assert.equal(config.bcryptCost, 10);
    assert.equal(config.trustProxy, true);
    assert.equal(config.trustProxyHops, 2);
  });

  it('lists every bad setting in one message', () => {
    const found = problems({
      PORT: 'eighty',
      ISSUER: 'not a url',
      DATABASE_URL: 'mysql://x',
      SECRET_KEY: 'short',
      LOG_LEVEL: 'loud',
      BCRYPT_COST: '31',
      INITIAL_ACCESS_TOKEN: 'tiny',
    });
    assert.deepEqual(found, [
      'PORT: PORT must be a whole number',
      'ISSUER: ISSUER must be an absolute URL such as https://id.example.com',
      'DATABASE_URL: DATABASE_URL must start with postgres:// or postgresql://',
      'SECRET_KEY: SECRET_KEY must be at least 32 characters (use: openssl rand -base64 48)',
      'LOG_LEVEL: LOG_LEVEL must be one of error, warn, info, http, verbose, debug, silly',
      'INITIAL_ACCESS_TOKEN: INITIAL_ACCESS_TOKEN must be at least 16 characters',
      'BCRYPT_COST: BCRYPT_COST must be at most 15',
    ]);
    assert.match(new ConfigError(found).message, /^Invalid configuration:\n {2}- PORT: /);
  });

  it('refuses to run in production without SECRET_KEY or with an http issuer', () => {
    assert.deepEqual(problems({ NODE_ENV: 'production', ISSUER: 'http://id.example.com' }), [
      'SECRET_KEY: SECRET_KEY is required in production',
      'ISSUER: ISSUER must be an https URL in production',
      'TRUST_PROXY: TRUST_PROXY must be true in production (Gatehouse runs behind a TLS-terminating proxy)',
    ]);
    assert.deepEqual(problems({ NODE_ENV: 'production', SECRET_KEY: SECRET, TRUST_PROXY: 'true' }), [
      'ISSUER: ISSUER must be an https URL in production',
    ]);
    assert.equal(
      loadConfig({ NODE_ENV: 'production', SECRET_KEY: SECRET, TRUST_PROXY: 'true', ISSUER: 'https://id.example.com' }).trustProxyHops,
      1,
    );
  });

  it('treats an empty variable as unset', () => {
    assert.equal(loadConfig({ PORT: '', ISSUER: '', SECRET_KEY: SECRET }).port, 3000);
  });
});
