// Starts a real Gatehouse on a random loopback port, on the given test database. The port is
// bound first and kept (listenOnFreePort), so the issuer names it and nobody can take it between.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.ts';
import { listenOnFreePort, startServer, type RunningServer } from '../../src/server.ts';
import type { Database } from '../../src/db/index.ts';

export const TEST_SECRET_KEY = 'test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz';

export interface TestServer extends RunningServer {
  issuer: string;
  config: Config;
}

/** The issuer is http://localhost:<port> (a secure context for browsers); we listen on 127.0.0.1. */
export async function startTestServer(database: Database, env: Record<string, string> = {}): Promise<TestServer> {
  const { listener, port } = await listenOnFreePort('127.0.0.1');
  try {
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: `http://localhost:${port}`,
      SECRET_KEY: TEST_SECRET_KEY,
      BCRYPT_COST: '4',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
      // Mail without SMTP_URL goes to DATA_DIR/outbox: a directory of this server's own.
      DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-test-')),
      ...env,
    });
    const running = await startServer(config, { database, listener });
    return { ...running, issuer: config.issuer, config };
  } catch (error) {
    listener.close();
    throw error;
  }
}
