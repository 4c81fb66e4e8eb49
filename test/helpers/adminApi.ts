// A machine client of the admin API, set up the way the README's bootstrap says: a client made
// with the CLI, granted the management API (all scopes or some), and a client-credentials token.
import * as client from 'openid-client';
import { commandContext } from '../../src/cli/context.ts';
import { runCommand } from '../../src/cli/run.ts';
import { ADMIN_BASE_PATH, MANAGEMENT_SCOPES, managementApiIdentifier } from '../../src/admin/index.ts';
import type { Database } from '../../src/db/index.ts';
import type { TestServer } from './server.ts';
import { discover } from './relyingParty.ts';

export interface AdminCall {
  body?: unknown;
  /** Sent as is instead of JSON (for malformed bodies). */
  raw?: string;
  headers?: Record<string, string>;
  token?: string | null;
}

export interface AdminAnswer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back
  body: any;
}

export class AdminClient {
  readonly clientId: string;
  readonly clientSecret: string;
  /** The scopes its tokens ask for. */
  readonly scopes: string[];
  token = '';
  private readonly server: TestServer;

  constructor(server: TestServer, clientId: string, clientSecret: string, scopes: string[]) {
    this.server = server;
    this.clientId = clientId;
    this.clientSecret = clientSecret;
    this.scopes = scopes;
  }

  /** A fresh client-credentials token for the management API (or for `resource`). */
  async newToken(resource = managementApiIdentifier(this.server.issuer)): Promise<string> {
    const config = await discover(this.server.issuer, this.clientId, this.clientSecret);
    const tokens = await client.clientCredentialsGrant(config, { resource, scope: this.scopes.join(' ') });
    return tokens.access_token;
  }

  async call(method: string, path: string, { body, raw, headers = {}, token }: AdminCall = {}): Promise<AdminAnswer> {
    const sent = new Headers(headers);
    const bearer = token === undefined ? this.token : token;
    if (bearer !== null) sent.set('authorization', `Bearer ${bearer}`);
    if ((body !== undefined || raw !== undefined) && !sent.has('content-type')) sent.set('content-type', 'application/json');
    const response = await fetch(`${this.server.url}${ADMIN_BASE_PATH}${path}`, {
      method,
      headers: sent,
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }
}

/** Runs the README's bootstrap: a client, granted the management API, with a token. */
export async function bootstrapAdminClient(
  server: TestServer,
  database: Database,
  name: string,
  scopes: string[] = [],
): Promise<AdminClient> {
  const ctx = commandContext(server.config, database);
  const run = async (argv: string[]) => {
    const outcome = await runCommand(ctx, [...argv, '--json']);
    if (outcome.exitCode !== 0) throw new Error(`gatehouse ${argv.join(' ')}: ${outcome.stdout}${outcome.stderr}`);
    return JSON.parse(outcome.stdout);
  };
  const created = await run(['clients', 'create', '--name', name, '--grant-type', 'client_credentials']);
  await run([
    'apis',
    'grant',
    '--api',
    managementApiIdentifier(server.issuer),
    '--client',
    created.client_id,
    ...scopes.flatMap((s) => ['--scope', s]),
  ]);
  const admin = new AdminClient(server, created.client_id, created.client_secret, scopes.length ? scopes : Object.keys(MANAGEMENT_SCOPES));
  admin.token = await admin.newToken();
  return admin;
}
