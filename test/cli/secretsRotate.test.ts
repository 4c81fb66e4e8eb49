// Rotating SECRET_KEY the way an operator does on the embedded database, as real processes: the
// development key generated into DATA_DIR/secret.key becomes SECRET_KEY_PREVIOUS beside a new
// SECRET_KEY, `gatehouse secrets rotate` runs through the running server's admin socket (with the
// server's keys), and only afterwards does the server start without the previous key.
// DATABASE_URL is removed from the children's environment: this is about the embedded path.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { secretKeyId } from '../../src/secrets/secretBox.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NEW_KEY = 'the-new-secret-key-after-rotation-0123456789abcdef';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function finished(child: ChildProcess): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c) => (stdout += c));
  child.stderr?.on('data', (c) => (stderr += c));
  child.stdin?.end();
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('secrets rotate on the embedded database, through the running server', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-rotate-'));
  let port: number;
  let server: ChildProcess | undefined;

  after(() => {
    server?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  function env(keys: Record<string, string> = {}): NodeJS.ProcessEnv {
    const { DATABASE_URL, SECRET_KEY, SECRET_KEY_PREVIOUS, ...rest } = process.env;
    return {
      ...rest,
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
      ISSUER: '',
      ...keys,
    };
  }

  async function start(keys: Record<string, string> = {}): Promise<void> {
    const child = spawn(process.execPath, ['src/main.ts'], { cwd: ROOT, env: env(keys) });
    server = child;
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        // PORT=0: the system picks the port, and the banner names it.
        const running = /Gatehouse is running: http:\/\/localhost:(\d+)/.exec(seen);
        if (running && seen.includes('Next, in another terminal:')) {
          port = Number(running[1]);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
  }

  async function stop(): Promise<void> {
    server?.kill('SIGTERM');
    if (server) await once(server, 'exit');
    server = undefined;
  }

  /** The CLI with no SECRET_KEY of its own: inside the server, the server's keys are used. */
  async function cli(...args: string[]): Promise<Record<string, unknown>> {
    const result = await finished(spawn(process.execPath, ['bin/gatehouse.js', ...args, '--json'], { cwd: ROOT, env: env() }));
    assert.equal(result.code, 0, result.stdout + result.stderr);
    return JSON.parse(result.stdout);
  }

  const jwksKids = async () =>
    ((await (await fetch(`http://127.0.0.1:${port}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();

  it('moves from the generated development key to a new SECRET_KEY', async () => {
    await start();
    const kids = await jwksKids();
    await stop();
    const generated = readFileSync(join(dataDir, 'secret.key'), 'utf8').trim();
    const rotating = { SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: generated };

    await start(rotating);
    assert.deepEqual(await jwksKids(), kids);
    const client = await cli(
      'clients',
      'create',
      '--name',
      'HMAC App',
      '--auth-method',
      'client_secret_jwt',
      '--grant-type',
      'client_credentials',
    );
    const status = await cli('secrets', 'status');
    assert.deepEqual(status.tables, { keys: { previous: 3 }, clients: { current: 1 }, mail_queue: {}, totp_factors: {}, connections: {} });
    assert.equal(status.previousKeyNeeded, true);
    await stop();

    // Too early: the previous key still seals the signing keys.
    const early = await finished(spawn(process.execPath, ['src/main.ts'], { cwd: ROOT, env: env({ SECRET_KEY: NEW_KEY }) }));
    assert.equal(early.code, 1);
    assert.match(
      early.stderr,
      new RegExp(
        `^Gatehouse could not start: SECRET_KEY_PREVIOUS was removed before "gatehouse secrets rotate" re-sealed everything: 3 secrets \\(keys: 3\\) are still sealed with the previous key \\(key id ${secretKeyId(generated)}\\)\\. Set SECRET_KEY_PREVIOUS to that key again, run "gatehouse secrets rotate", then remove it\\.$`,
        'm',
      ),
    );
    assert.doesNotMatch(early.stderr, /^\s+at /m, 'no stack trace');

    await start(rotating);
    assert.deepEqual(await cli('secrets', 'rotate'), {
      keyId: secretKeyId(NEW_KEY),
      resealed: { keys: 3, clients: 0, mail_queue: 0, totp_factors: 0, connections: 0, oidc_payloads: 0 },
      unchanged: { keys: 0, clients: 1, mail_queue: 0, totp_factors: 0, connections: 0 },
    });
    assert.equal((await cli('secrets', 'status')).previousKeyNeeded, false);
    await stop();

    await start({ SECRET_KEY: NEW_KEY });
    assert.deepEqual(await jwksKids(), kids, 'the same signing keys, sealed with the new key only');
    assert.equal((await cli('clients', 'show', client.client_id as string)).client_id, client.client_id);
    await stop();
  });
});
