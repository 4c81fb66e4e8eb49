// The newcomer's path, as real processes: `npm start` on the embedded database in DATA_DIR,
// `gatehouse` commands in another terminal while it runs (handed to the server over its admin
// socket), a second server on the same DATA_DIR refused, and a clean stop on SIGTERM.
// DATABASE_URL is removed from the children's environment: this is about the embedded path.
// The server gets PORT=0 and tells us the port it was given, so no port is picked in advance.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { basicAuth } from '../helpers/relyingParty.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function childEnv(dataDir: string): NodeJS.ProcessEnv {
  const { DATABASE_URL, ...env } = process.env;
  return {
    ...env,
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    BCRYPT_COST: '4',
    LOG_LEVEL: 'info',
    NODE_ENV: 'development',
    ISSUER: '',
  };
}

function cli(env: NodeJS.ProcessEnv, args: string[], stdin?: string): Promise<Finished> {
  const child = spawn(process.execPath, ['bin/gatehouse.js', ...args], { cwd: ROOT, env });
  return finished(child, stdin);
}

async function finished(child: ChildProcess, stdin?: string): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c) => (stdout += c));
  child.stderr?.on('data', (c) => (stderr += c));
  child.stdin?.end(stdin ?? '');
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

async function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve(seen);
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before ready:\n${seen}`)));
  });
}

describe('embedded database: npm start and the CLI side by side', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-embedded-'));
  const env = childEnv(dataDir);
  let server: ChildProcess | undefined;
  /** The port the running server was given (PORT=0), read from what it printed. */
  let port: number;

  after(() => {
    server?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs a command on its own when no server holds the data directory', async () => {
    const result = await cli(env, ['users', 'create', '--email', 'first@example.com', '--password', 'copper kite meadow', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).email, 'first@example.com');
    assert.equal(existsSync(join(dataDir, 'gatehouse.lock')), false, 'the CLI released the lock');
  });

  it('starts, says where it is and how to begin, and serves discovery', async () => {
    server = spawn(process.execPath, ['src/main.ts'], { cwd: ROOT, env });
    // Both the banner and the log line that says where it listens (in either order).
    const banner = await waitForOutput(
      server,
      /^(?=[\s\S]*"gatehouse started".*\n)(?=[\s\S]*Next, in another terminal:[\s\S]*clients create)/,
    );
    port = Number(/Gatehouse is running: http:\/\/localhost:(\d+)\n/.exec(banner)?.[1]);
    assert.ok(port > 0, banner);
    // The issuer names the port the server listens on: PORT=0 is resolved before the issuer.
    const started = JSON.parse(banner.split('\n').find((line) => line.includes('"gatehouse started"')) as string);
    assert.equal(started.listening, `http://127.0.0.1:${port}`);
    assert.match(banner, new RegExp(`Discovery: +http://localhost:${port}/.well-known/openid-configuration`));
    assert.match(banner, /users create --email/);
    const discovery = (await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json()) as { issuer: string };
    assert.equal(discovery.issuer, `http://localhost:${port}`);
    assert.equal(statSync(join(dataDir, 'admin.sock')).mode & 0o777, 0o600);
  });

  it('hands CLI commands to the running server', async () => {
    const created = await cli(
      env,
      ['users', 'create', '--email', 'second@example.com', '--password-stdin', '--json'],
      'orchid lantern tugboat\n',
    );
    assert.equal(created.code, 0, created.stderr);
    const listed = await cli(env, ['users', 'list', '--json']);
    assert.deepEqual(
      JSON.parse(listed.stdout).map((u: { email: string }) => u.email),
      ['first@example.com', 'second@example.com'],
    );
    const client = await cli(env, ['clients', 'create', '--name', 'Side App', '--redirect-uri', 'http://localhost:8080/cb', '--json']);
    assert.equal(client.code, 0, client.stderr);
    const { client_id: clientId, client_secret: secret } = JSON.parse(client.stdout);
    // The client works at once against the running server.
    const clientCredentials = () =>
      fetch(`http://127.0.0.1:${port}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, secret) },
        body: 'grant_type=client_credentials',
      });
    const token = await clientCredentials();
    assert.equal(token.status, 400);
    assert.equal(((await token.json()) as { error: string }).error, 'invalid_request', 'authenticated, but not allowed client_credentials');
    // Deleting it through the CLI takes effect in the server at once (no stale cached client).
    assert.equal((await cli(env, ['clients', 'delete', clientId])).code, 0);
    const afterDelete = await clientCredentials();
    assert.equal(afterDelete.status, 401);
    const failure = await cli(env, ['users', 'create', '--email', 'second@example.com', '--password', 'granite sparrow orbit']);
    assert.equal(failure.code, 1);
    assert.equal(failure.stderr, 'An account with this email already exists\n');
  });

  it('rotates keys through the running server, which publishes the new keys at once', async () => {
    const jwks = async () =>
      ((await (await fetch(`http://127.0.0.1:${port}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const before = await jwks();
    const rotated = await cli(env, ['keys', 'rotate', '--json']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const created = (JSON.parse(rotated.stdout) as { created: { kid: string; kind: string }[] }).created.filter(
      (k) => k.kind === 'signing',
    );
    const after = await jwks();
    for (const { kid } of created) assert.ok(after.includes(kid), `new key ${kid} published`);
    for (const kid of before) assert.ok(after.includes(kid), `retired key ${kid} still published`);
  });

  it('refuses a second server on the same data directory with a clear message', async () => {
    const second = await finished(spawn(process.execPath, ['src/main.ts'], { cwd: ROOT, env }));
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      new RegExp(`The data directory ${dataDir} is in use by another Gatehouse process \\(pid ${server?.pid}\\)`),
    );
  });

  it('stops cleanly on SIGTERM and releases the data directory', async () => {
    server?.kill('SIGTERM');
    const [code] = (await once(server as ChildProcess, 'exit')) as [number | null];
    assert.equal(code, 0);
    server = undefined;
    assert.equal(existsSync(join(dataDir, 'gatehouse.lock')), false);
    const after = await cli(env, ['users', 'show', 'second@example.com', '--json']);
    assert.equal(after.code, 0, after.stderr);
  });
});
