// Malformed traffic, all at once: huge headers, huge bodies, broken HTTP, odd query shapes and
// clients that never finish their request (slowloris). Every request gets its answer or its socket
// closed, within the test's own time bound, and the server keeps serving normal requests, during
// the storm and after it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createClient } from '../helpers/fixtures.ts';
import { RP_REDIRECT, basicAuth } from '../helpers/relyingParty.ts';

interface Outcome {
  /** From the status line; undefined when the socket closed without an answer. */
  status?: number;
  body: string;
}

interface Exchange {
  name: string;
  /** The request as sent; a slow client sends `trickle` after it, a byte at a time, forever. */
  bytes: string | Buffer;
  trickle?: string;
  /** The answer; `or closed` accepts a reset that beat the answer (a body the server stopped reading). */
  expect: number | `${number} or closed`;
}

function exchange(port: number, { bytes, trickle }: Exchange): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let drip: NodeJS.Timeout | undefined;
    const settle = () => {
      clearInterval(drip);
      const [head, ...rest] = received.split('\r\n\r\n');
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1];
      resolve({ status: status ? Number(status) : undefined, body: rest.join('\r\n\r\n') });
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (received += chunk));
    socket.on('error', () => socket.destroy()); // EPIPE / ECONNRESET: the server stopped listening
    socket.on('close', settle);
    socket.write(bytes);
    if (trickle === undefined) return;
    let sent = 0;
    drip = setInterval(() => socket.write(trickle[sent++ % trickle.length]), 100);
  });
}

const CLOSE = 'Connection: close\r\n';
const get = (target: string, headers = '') =>
  `GET ${target} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n${CLOSE}${headers}\r\n`;
const post = (path: string, type: string, body: Buffer | string, length = Buffer.byteLength(body), headers = '') =>
  Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n${CLOSE}${headers}Content-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`,
    ),
    Buffer.from(body),
  ]);
const FORM = 'application/x-www-form-urlencoded';
const MB = 1024 * 1024;

describe('malformed traffic', () => {
  let database: TestDatabase;
  let server: TestServer;
  let port: number;
  let authorize: string;
  let clientAuth: string;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    port = Number(new URL(server.url).port);
    // The server's deadlines for a request's headers and whole request (20 s and 30 s) are
    // shortened here so the test waits seconds, not half a minute; Node enforces them the same.
    server.server.headersTimeout = 2_000;
    server.server.requestTimeout = 3_000;
    const { client_id, client_secret } = await createClient(database, server.config);
    clientAuth = basicAuth(client_id, client_secret as string);
    authorize = `/auth?client_id=${client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(RP_REDIRECT)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`;
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  const exchanges = (): Exchange[] => [
    // Over Node's limits (16 KiB of headers, request line included): 431 before any of our code.
    { name: 'a 70 KB header', bytes: get('/', `X-Big: ${'a'.repeat(70_000)}\r\n`), expect: 431 },
    { name: 'a 70 KB URL', bytes: get(`/auth?state=${'a'.repeat(70_000)}`), expect: 431 },
    { name: '3000 headers', bytes: get('/', `${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n`), expect: 431 },
    // Broken HTTP: Node's parser answers 400.
    { name: 'a control character in a header', bytes: get('/', 'X-Bad: a\x01b\r\n'), expect: 400 },
    {
      name: 'Content-Length and Transfer-Encoding together (request smuggling)',
      bytes: `POST /token HTTP/1.1\r\nHost: localhost\r\n${CLOSE}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      expect: 400,
    },
    {
      name: 'a Content-Length that is not a number',
      bytes: `POST /token HTTP/1.1\r\nHost: localhost\r\n${CLOSE}Content-Length: abc\r\n\r\n`,
      expect: 400,
    },
    { name: 'no Host header', bytes: `GET / HTTP/1.1\r\n${CLOSE}\r\n`, expect: 400 },
    {
      name: 'a TLS handshake on the plain port',
      bytes: Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
      expect: 400,
    },
    // Huge bodies: refused without being read to the end.
    { name: '10 MB form on the token endpoint', bytes: post('/token', FORM, Buffer.alloc(10 * MB, 'a')), expect: '400 or closed' },
    {
      name: '5 MB form on the sign-in form',
      bytes: post('/interaction/some-uid/password', FORM, Buffer.alloc(5 * MB, 'a')),
      expect: '413 or closed',
    },
    { name: '5 MB form on the device page', bytes: post('/device', FORM, Buffer.alloc(5 * MB, 'a')), expect: '413 or closed' },
    { name: 'a 100 GB Content-Length', bytes: post('/token', FORM, 'a=b', 100 * 1024 * MB), expect: 400 },
    {
      name: '5 MB chunked JSON on the token endpoint',
      bytes: Buffer.concat([
        Buffer.from(
          `POST /token HTTP/1.1\r\nHost: localhost\r\n${CLOSE}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
        ),
        Buffer.from(`${(5 * MB).toString(16)}\r\n`),
        Buffer.alloc(5 * MB, 'a'),
        Buffer.from('\r\n0\r\n\r\n'),
      ]),
      expect: '400 or closed',
    },
    // Odd query shapes: each endpoint's own answer.
    { name: 'a repeated client_id', bytes: get(`${authorize}&client_id=other`), expect: 400 },
    { name: 'an array-style parameter', bytes: get(`${authorize}&scope[]=openid`), expect: 303 },
    { name: 'deep brackets', bytes: get(`${authorize}&a[b][c][d][e][f][g][h][i][j]=1`), expect: 303 },
    { name: 'invalid percent-encoding in values', bytes: get(`${authorize}&state=%E0%A4%A&nonce=%zz`), expect: 303 },
    { name: 'invalid percent-encoding in the client id', bytes: get('/auth?client_id=%E0%A4%A&response_type=code'), expect: 400 },
    { name: 'invalid percent-encoding in a path parameter', bytes: get('/interaction/%E0%A4%A'), expect: 400 },
    { name: 'invalid percent-encoding in a device page path', bytes: get('/device/%zz'), expect: 400 },
    { name: 'a repeated access_token', bytes: get('/me?access_token=a&access_token=b'), expect: 400 },
    { name: 'a repeated client_id at logout', bytes: get('/session/end?client_id=a&client_id=b'), expect: 400 },
    { name: 'garbage after discovery', bytes: get('/.well-known/openid-configuration?%zz=%zz&a[]=1&&&='), expect: 200 },
    { name: 'garbage after the health check', bytes: get('/healthz?%%%'), expect: 200 },
    {
      name: 'a repeated grant_type in the body',
      bytes: post('/token', FORM, 'grant_type=a&grant_type=b', undefined, `Authorization: ${clientAuth}\r\n`),
      expect: 400,
    },
    {
      name: '5000 parameters in the body',
      bytes: post('/token', FORM, Array.from({ length: 5000 }, (_, i) => `p${i}=v`).join('&')),
      expect: 400,
    },
    // Clients that never finish: Node's deadlines answer 408 and close.
    {
      name: 'headers sent a byte at a time (slowloris)',
      bytes: 'GET / HTTP/1.1\r\nHost: localhost\r\n',
      trickle: 'X-Slow: still-coming\r\n',
      expect: 408,
    },
    { name: 'a connection that sends nothing', bytes: '', expect: 408 },
    { name: 'a body sent a byte at a time', bytes: post('/token', FORM, '', 1000), trickle: 'a', expect: 408 },
  ];

  it('answers or closes every one of them, all at once, and serves normal requests meanwhile', { timeout: 60_000 }, async () => {
    const storm = exchanges().flatMap((e) => [e, e, e]);
    const outcomes = storm.map((e) => exchange(port, e));
    // The storm is under way (the slow clients hold their sockets): a normal request is served.
    const during = await fetch(`${server.url}/.well-known/openid-configuration`);
    assert.equal(during.status, 200);

    const settled = await Promise.all(outcomes);
    storm.forEach((e, i) => {
      const { status } = settled[i];
      if (typeof e.expect === 'number') assert.equal(status, e.expect, e.name);
      else assert.ok(status === undefined || status === Number.parseInt(e.expect, 10), `${e.name}: ${status}`);
    });
    // The answers are the endpoints' own: spot-check the protocol errors.
    const byName = (name: string) => settled[storm.findIndex((e) => e.name === name)].body;
    assert.deepEqual(JSON.parse(byName('a repeated access_token')), {
      error: 'invalid_request',
      error_description: "'access_token' parameter must not be provided twice",
    });
    assert.deepEqual(JSON.parse(byName('a repeated grant_type in the body')), {
      error: 'invalid_request',
      error_description: "'grant_type' parameter must not be provided twice",
    });
    assert.deepEqual(JSON.parse(byName('a 100 GB Content-Length')), {
      error: 'invalid_request',
      error_description: 'failed to parse the request body',
    });
  });

  it('still serves afterwards', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    const signIn = await fetch(`${server.url}${authorize}`, { redirect: 'manual' });
    assert.equal(signIn.status, 303);
  });
});
