// One trip to an upstream provider and back, for whoever starts it (a sign-in, or a signed-in
// user linking an identity in the account area): the state, nonce and PKCE verifier are kept,
// sealed, as a verification record of the caller's flow; coming back takes that record once
// (one conditional update: a replayed or forged callback finds nothing), checks the state in
// constant time and redeems the code.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.ts';
import type { Db } from '../db/index.ts';
import type { SecretBox } from '../secrets/secretBox.ts';
import { startVerification, takeChallenge } from '../verifications/index.ts';
import { connectionForSignIn, type Connection } from './connections.ts';
import {
  finishUpstreamSignIn,
  startUpstreamSignIn,
  upstreamConfiguration,
  UpstreamError,
  type UpstreamChecks,
  type UpstreamIdentity,
} from './oidcUpstream.ts';
import { finishOAuth2SignIn, oauth2Configuration, startOAuth2SignIn } from './oauth2Upstream.ts';
import { startSamlSignIn } from './saml.ts';
import { FEDERATION_CALLBACK_PATH } from './paths.ts';

export interface UpstreamFlowDeps {
  db: Db;
  box: SecretBox;
  issuer: string;
  /** Plain-http providers outside production only. */
  allowHttp: boolean;
  /** How long each request to a provider may take (UPSTREAM_TIMEOUT_SECONDS). */
  timeoutSeconds: number;
}

/** What a trip needs, from the server's configuration. */
export const upstreamFlowDeps = (config: Config, db: Db, box: SecretBox): UpstreamFlowDeps => ({
  db,
  box,
  issuer: config.issuer,
  allowHttp: config.env !== 'production',
  timeoutSeconds: config.upstreamTimeoutSeconds,
});

export interface UpstreamTrip {
  /** The caller's verification flow (interaction:<uid>, account:<session>). */
  flow: string;
  /** The verification record's method name. */
  method: string;
  /** Where the shared callback sends the browser back to (see paths.ts). */
  returnKey: string;
}

const sealContext = (flow: string) => ({ table: 'verification_records', rowId: flow, purpose: 'upstream' });
const callbackUrl = (deps: UpstreamFlowDeps) => `${deps.issuer}${FEDERATION_CALLBACK_PATH}`;
/** The protocol of a connection: how to send the browser there, and how to read who came back. */
interface Protocol {
  depart(redirectUri: string, state: string, extra: Record<string, string>): Promise<{ url: URL; checks: UpstreamChecks }>;
  /** What came back: the callback URL with its query, or (form_post) the POST request to it and what it posted. */
  arrive(returned: URL | Request, checks: UpstreamChecks, posted?: URLSearchParams): Promise<UpstreamIdentity>;
}

async function protocolOf(deps: UpstreamFlowDeps, connection: Connection & { clientSecret?: string }): Promise<Protocol> {
  const upstream = { clientSecret: connection.clientSecret, allowHttp: deps.allowHttp, timeoutSeconds: deps.timeoutSeconds };
  if (connection.type === 'saml') {
    // SAML comes back by POST to its own assertion consumer service (saml.ts), not to this callback.
    return {
      depart: (_redirectUri, state) => startSamlSignIn(deps, connection, state),
      arrive: () => Promise.reject(new UpstreamError('invalid', 'A SAML response is posted to its assertion consumer service')),
    };
  }
  if (connection.type === 'oauth2') {
    const configuration = oauth2Configuration({ ...upstream, connection });
    return {
      depart: (redirectUri, state, extra) => startOAuth2SignIn(configuration, connection, redirectUri, state, extra),
      arrive: (callbackUrl, checks) => finishOAuth2SignIn(configuration, connection, callbackUrl, checks),
    };
  }
  const configuration = await upstreamConfiguration({ ...upstream, connection });
  return {
    depart: (redirectUri, state, extra) => startUpstreamSignIn(configuration, connection, redirectUri, state, extra),
    arrive: (callbackUrl, checks, posted) => finishUpstreamSignIn(configuration, connection, callbackUrl, checks, posted),
  };
}

/** Where to send the browser for this connection; throws UpstreamError when the provider cannot be reached. */
export async function departFor(
  deps: UpstreamFlowDeps,
  connection: Connection & { clientSecret?: string },
  trip: UpstreamTrip,
  extra: Record<string, string> = {},
): Promise<URL> {
  const protocol = await protocolOf(deps, connection);
  // The state says where the browser goes back to, so one redirect URI serves every caller.
  const state = `${trip.returnKey}.${randomBytes(24).toString('base64url')}`;
  const { url, checks } = await protocol.depart(callbackUrl(deps), state, extra);
  await startVerification(deps.db, {
    flow: trip.flow,
    method: trip.method,
    challenge: state,
    state: { connection: connection.id, sealed: deps.box.seal(JSON.stringify(checks), sealContext(trip.flow)) },
    lifetimeSeconds: 600,
  });
  return url;
}

export type Arrival =
  | { ok: true; connection: Connection; identity: UpstreamIdentity }
  /** stale: no trip waiting (used, expired, or a state that is not this trip's). */
  | { ok: false; problem: 'stale' | 'gone' | UpstreamError['kind']; connection?: Connection; reason?: string };

const sameState = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** The browser came back with `query` (the callback's query string): who the provider says it is. */
/**
 * The trip this state belongs to, used up (whatever happens next, it never serves twice), with
 * its connection and what to check the answer against.
 */
export async function takeTrip(
  deps: UpstreamFlowDeps,
  trip: Omit<UpstreamTrip, 'returnKey'>,
  state: string,
): Promise<
  { ok: true; connection: Connection & { clientSecret?: string }; checks: UpstreamChecks } | { ok: false; problem: 'stale' | 'gone' }
> {
  const started = await takeChallenge(deps.db, trip.flow, trip.method, state);
  if (!started?.challenge || !sameState(state, started.challenge)) return { ok: false, problem: 'stale' };
  const connection = await connectionForSignIn(deps.db, deps.box, String(started.state.connection));
  if (!connection) return { ok: false, problem: 'gone' };
  return {
    ok: true,
    connection,
    checks: JSON.parse(deps.box.open(String(started.state.sealed), sealContext(trip.flow))) as UpstreamChecks,
  };
}

/**
 * The browser came back with `params`: in the callback's query (GET), or posted to it
 * (response_mode=form_post). Who the provider says it is.
 */
export async function arriveFrom(
  deps: UpstreamFlowDeps,
  trip: Omit<UpstreamTrip, 'returnKey'>,
  params: URLSearchParams,
  method: 'GET' | 'POST' = 'GET',
): Promise<Arrival> {
  const taken = await takeTrip(deps, trip, params.get('state') ?? '');
  if (!taken.ok) return taken;
  const { connection, checks } = taken;
  try {
    const protocol = await protocolOf(deps, connection);
    const url = new URL(callbackUrl(deps));
    if (method === 'GET') url.search = params.toString();
    const returned =
      method === 'GET'
        ? url
        : new Request(url, { method: 'POST', body: params, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return { ok: true, connection, identity: await protocol.arrive(returned, checks, method === 'POST' ? params : undefined) };
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    return { ok: false, problem: error.kind, connection, reason: error.message };
  }
}

const ARRIVAL = 'upstream_arrival';
const arrivalContext = (flow: string) => ({ table: 'verification_records', rowId: flow, purpose: 'arrival' });

/**
 * A SAML response, or a form_post code, comes back by a cross-site POST, which carries none of the
 * sign-in's cookies (SameSite): the endpoint it reaches checks it, keeps what it found (sealed)
 * under a one-time token, and sends the browser on by GET to the sign-in, which takes it here.
 */
export async function keepArrival(deps: UpstreamFlowDeps, flow: string, arrival: Arrival): Promise<string> {
  const token = randomBytes(24).toString('base64url');
  const kept = arrival.ok
    ? { ok: true, connection: arrival.connection.id, identity: arrival.identity }
    : { ok: false, connection: arrival.connection?.id, problem: arrival.problem, reason: arrival.reason };
  await startVerification(deps.db, {
    flow,
    method: ARRIVAL,
    challenge: token,
    state: { sealed: deps.box.seal(JSON.stringify(kept), arrivalContext(flow)) },
    lifetimeSeconds: 300,
  });
  return token;
}

export async function takeArrival(deps: UpstreamFlowDeps, flow: string, token: string): Promise<Arrival> {
  const record = await takeChallenge(deps.db, flow, ARRIVAL, token);
  if (!record?.challenge || !sameState(token, record.challenge)) return { ok: false, problem: 'stale' };
  const kept = JSON.parse(deps.box.open(String(record.state.sealed), arrivalContext(flow))) as {
    ok: boolean;
    connection?: string;
    identity?: UpstreamIdentity;
    problem?: Exclude<Arrival, { ok: true }>['problem'];
    reason?: string;
  };
  const connection = kept.connection ? await connectionForSignIn(deps.db, deps.box, kept.connection) : undefined;
  if (!connection) return { ok: false, problem: 'gone' };
  return kept.ok && kept.identity
    ? { ok: true, connection, identity: kept.identity }
    : { ok: false, problem: kept.problem ?? 'invalid', connection, reason: kept.reason };
}
