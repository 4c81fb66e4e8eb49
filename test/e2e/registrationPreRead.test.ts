// The RFC 7592 update body is read before oidc-provider reads it (registrationSecrets.ts). That
// read must tell nobody which clients exist, must not run when registration is off, and must
// never leave a half-read body on a kept-alive connection: the next request on it would stall.
// The connection tests speak HTTP/1.1 over one raw socket, as a keep-alive client does.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createClient } from '../helpers/fixtures.ts';

const INITIAL_ACCESS_TOKEN = 'initial-access-token-pre-read';
const ONE_MEGABYTE = 1024 * 1024;
// A bound on waiting, so a stalled connection fails the test instead of hanging it.
const PATIENCE_MS = 15_000;

interface Registration {
  client_id: string;
  registration_access_token: string;
  registration_client_uri: string;
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One socket; reads HTTP/1.1 responses (with Content-Length) as they arrive. */
class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiting?: () => void;
  ended = false;

  private readonly socket: Socket;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiting?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  private async until<T>(what: string, take: () => T | undefined): Promise<T> {
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      const value = take();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) throw new Error(`no ${what} on the connection (${this.ended ? 'closed' : 'timed out'})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  response(): Promise<RawResponse> {
    return this.until('response', () => {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const [statusLine, ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      assert.ok(headers['content-length'], 'responses here carry a Content-Length');
      const length = Number(headers['content-length']);
      if (this.buffer.length < end + 4 + length) return undefined;
      const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(end + 4 + length);
      return { status: Number(statusLine.split(' ')[1]), headers, body };
    });
  }

  closed(): Promise<true> {
    return this.until('close', () => (this.ended ? true : undefined));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const host = (server: TestServer) => new URL(server.issuer).host;
const putHead = (server: TestServer, path: string, token: string, framing: string) =>
  `PUT ${path} HTTP/1.1\r\nHost: ${host(server)}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n${framing}\r\n`;
const getRequest = (server: TestServer, path: string) => `GET ${path} HTTP/1.1\r\nHost: ${host(server)}\r\n\r\n`;
const port = (server: TestServer) => Number(new URL(server.issuer).port);

// A registration body with a large inline JWKS, as a client using private_key_jwt may send.
function largeUpdate(clientId: string, bytes: number): Buffer {
  const json = JSON.stringify({
    client_id: clientId,
    redirect_uris: ['https://rp.example/cb'],
    jwks: { keys: [{ x: 'a'.repeat(bytes) }] },
  });
  return Buffer.from(json);
}

describe('RFC 7592 update body pre-read', () => {
  let database: TestDatabase;
  let server: TestServer;
  let registration: Registration;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database, { INITIAL_ACCESS_TOKEN });
    const response = await fetch(new URL('/reg', server.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
      body: JSON.stringify({ client_name: 'Pre-read', redirect_uris: ['https://rp.example/cb'] }),
    });
    assert.equal(response.status, 201);
    registration = (await response.json()) as Registration;
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const regPath = () => new URL(registration.registration_client_uri).pathname;

  it('answers an unauthenticated update the same whether the client exists or not', async () => {
    // This body made the pre-read look the client up and refuse the switch to a symmetric secret.
    const attempt = (clientId: string) =>
      fetch(new URL(`/reg/${clientId}`, server.issuer), {
        method: 'PUT',
        headers: { authorization: 'Bearer not-a-registration-token', 'content-type': 'application/json' },
        body: JSON.stringify({
          client_id: clientId,
          redirect_uris: ['https://rp.example/cb'],
          token_endpoint_auth_method: 'client_secret_jwt',
        }),
      });
    for (const clientId of [registration.client_id, 'dcr_00000000000000000000000000000000']) {
      const response = await attempt(clientId);
      assert.equal(response.status, 401, clientId);
      assert.deepEqual(await response.json(), { error: 'invalid_token', error_description: 'invalid token provided' }, clientId);
    }
  });

  it('does not read for a registration access token of another client', async () => {
    const other = await fetch(new URL('/reg', server.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
      body: JSON.stringify({ client_name: 'Other', redirect_uris: ['https://rp.example/cb'] }),
    });
    const { registration_access_token: otherToken } = (await other.json()) as Registration;
    const response = await fetch(registration.registration_client_uri, {
      method: 'PUT',
      headers: { authorization: `Bearer ${otherToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: registration.client_id,
        redirect_uris: ['https://rp.example/cb'],
        token_endpoint_auth_method: 'client_secret_jwt',
      }),
    });
    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), { error: 'invalid_token', error_description: 'invalid token provided' });
  });

  it('refuses a 1 MB update by its Content-Length, and the next request on the connection is answered', async () => {
    const connection = await RawConnection.open(port(server));
    try {
      const body = largeUpdate(registration.client_id, ONE_MEGABYTE);
      connection.write(putHead(server, regPath(), registration.registration_access_token, `Content-Length: ${body.length}\r\n`));
      connection.write(body);
      connection.write(getRequest(server, '/.well-known/openid-configuration'));
      const refused = await connection.response();
      assert.equal(refused.status, 400);
      assert.deepEqual(JSON.parse(refused.body), { error: 'invalid_request', error_description: 'request entity too large' });
      assert.notEqual(refused.headers.connection, 'close');
      const next = await connection.response();
      assert.equal(next.status, 200);
      assert.equal(JSON.parse(next.body).issuer, server.issuer);
    } finally {
      connection.destroy();
    }
  });

  it('answers the next request on the connection after an unauthenticated 1 MB update', async () => {
    const connection = await RawConnection.open(port(server));
    try {
      const body = largeUpdate(registration.client_id, ONE_MEGABYTE);
      connection.write(putHead(server, regPath(), 'not-a-registration-token', `Content-Length: ${body.length}\r\n`));
      connection.write(body);
      connection.write(getRequest(server, '/.well-known/openid-configuration'));
      assert.equal((await connection.response()).status, 401);
      assert.equal((await connection.response()).status, 200);
    } finally {
      connection.destroy();
    }
  });

  it('refuses a chunked update that grows too large, and closes that connection', async () => {
    const connection = await RawConnection.open(port(server));
    try {
      connection.write(putHead(server, regPath(), registration.registration_access_token, 'Transfer-Encoding: chunked\r\n'));
      const body = largeUpdate(registration.client_id, 128 * 1024);
      for (let offset = 0; offset < body.length; offset += 16 * 1024) {
        const chunk = body.subarray(offset, offset + 16 * 1024);
        connection.write(`${chunk.length.toString(16)}\r\n`);
        connection.write(chunk);
        connection.write('\r\n');
      }
      connection.write('0\r\n\r\n');
      const refused = await connection.response();
      assert.equal(refused.status, 400);
      assert.deepEqual(JSON.parse(refused.body), { error: 'invalid_request', error_description: 'request entity too large' });
      assert.equal(refused.headers.connection, 'close');
      assert.equal(await connection.closed(), true);
    } finally {
      connection.destroy();
    }
    // The client is unchanged.
    const row = await database.db('clients').where('client_id', registration.client_id).first();
    assert.equal(row.metadata.jwks, undefined);
  });

  it('still applies a small chunked update', async () => {
    const connection = await RawConnection.open(port(server));
    try {
      connection.write(putHead(server, regPath(), registration.registration_access_token, 'Transfer-Encoding: chunked\r\n'));
      const body = Buffer.from(
        JSON.stringify({ client_id: registration.client_id, client_name: 'Renamed in chunks', redirect_uris: ['https://rp.example/cb'] }),
      );
      connection.write(`${body.length.toString(16)}\r\n`);
      connection.write(body);
      connection.write('\r\n0\r\n\r\n');
      const updated = await connection.response();
      assert.equal(updated.status, 200, updated.body);
      const answer = JSON.parse(updated.body) as Registration & { client_name: string };
      assert.equal(answer.client_name, 'Renamed in chunks');
      registration = { ...registration, registration_access_token: answer.registration_access_token };
    } finally {
      connection.destroy();
    }
  });
});

describe('RFC 7592 pre-read with registration off', () => {
  let database: TestDatabase;
  let server: TestServer;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  it('does not look clients up: an existing and an unknown id get the same answer', async () => {
    const existing = await createClient(database, server.config, { name: 'CLI client' });
    const answers = [];
    for (const clientId of [existing.client_id, 'no-such-client']) {
      const response = await fetch(new URL(`/reg/${clientId}`, server.issuer), {
        method: 'PUT',
        headers: { authorization: 'Bearer anything', 'content-type': 'application/json' },
        body: JSON.stringify({
          client_id: clientId,
          redirect_uris: ['https://rp.example/cb'],
          token_endpoint_auth_method: 'client_secret_jwt',
        }),
      });
      answers.push([response.status, await response.text()]);
    }
    assert.deepEqual(answers[0], answers[1]);
    assert.deepEqual(answers[0], [404, 'Not Found']);
  });

  it('does not read a large body either', async () => {
    const connection = await RawConnection.open(port(server));
    try {
      const body = largeUpdate('no-such-client', ONE_MEGABYTE);
      connection.write(putHead(server, '/reg/no-such-client', 'anything', `Content-Length: ${body.length}\r\n`));
      connection.write(body);
      connection.write(getRequest(server, '/.well-known/openid-configuration'));
      const first = await connection.response();
      assert.equal(first.status, 404);
      assert.equal((await connection.response()).status, 200);
    } finally {
      connection.destroy();
    }
  });
});
