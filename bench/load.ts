// Measuring one scenario on one server: check a sample answer, warm up, then load it with
// autocannon for the set duration. Every non-2xx answer, socket error and timeout is counted and
// turned into a problem, so a scenario that errs is flagged rather than reported as fast.
import { request as httpRequest } from 'node:http';
import autocannon from 'autocannon';
import type { Scenario, ScenarioRequest, ServerUnderTest } from './scenarios.ts';
import type { TargetProcess } from './target.ts';

export interface LoadOptions {
  duration: number;
  warmup: number;
  connections: number;
}

export interface Figures {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** CPU time of the server process per request (µs): steadier than req/s on a busy machine. */
  cpu_us_per_request: number;
  /** SQL statements per request while measuring (Gatehouse only). */
  sql_per_request?: number;
  problems: string[];
}

const MINT_CHUNK = 5000;
// Refresh tokens per second of load when there is no warm-up to tell the real pace.
const INITIAL_TOKENS_PER_SECOND = 4000;
// Head-room over the warm-up's steady pace: the measured run may go faster still.
const POOL_MARGIN = 1.5;
const warmupRequests = (options: LoadOptions) => Math.max(options.connections * 100, Math.round(2000 * options.warmup));
const NOT_A_TOKEN = 'refresh-token-pool-exhausted';

/** Single-use refresh tokens minted by the server under test, handed out one per request. */
class RefreshTokenPool {
  private tokens: string[] = [];
  private readonly target: TargetProcess;
  exhausted = 0;

  constructor(target: TargetProcess) {
    this.target = target;
  }

  get size() {
    return this.tokens.length;
  }

  async fill(count: number) {
    while (this.tokens.length < count) {
      const minted = await this.target.mintRefreshTokens(Math.min(MINT_CHUNK, count - this.tokens.length));
      if (!minted.length) throw new Error('the server minted no refresh tokens');
      this.tokens.push(...minted);
    }
  }

  /** A fresh token; when none is left, one that will be refused (and so counted as an error). */
  take = (): string => {
    const token = this.tokens.pop();
    if (token !== undefined) return token;
    this.exhausted++;
    return NOT_A_TOKEN;
  };
}

function bodyOf(request: ScenarioRequest): string | undefined {
  return typeof request.body === 'function' ? request.body() : request.body;
}

// node:http rather than fetch, which would replace the Host header we send.
function send(url: string, request: ScenarioRequest, body: string | undefined): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url + request.path, { method: request.method, headers: request.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function checkSample(scenario: Scenario, server: ServerUnderTest, request: ScenarioRequest): Promise<void> {
  const sent = bodyOf(request);
  const { status, text } = await send(server.url, request, sent);
  if (status !== 200) throw new Error(`sample answer is ${status}: ${text.slice(0, 300)}`);
  scenario.check(JSON.parse(text) as Record<string, unknown>, server, sent);
}

/** Every response's latency (ms, sub-millisecond; autocannon's own histogram has 1 ms steps) and when it came. */
interface Responses {
  latencies: number[];
  times: number[];
}

/** Loads `request` for `seconds`, or for `amount` requests in all when that is given. */
async function run(
  server: ServerUnderTest,
  request: ScenarioRequest,
  connections: number,
  length: { seconds: number } | { amount: number },
): Promise<{ result: autocannon.Result; responses: Responses }> {
  const { body } = request;
  const base = { method: request.method, path: request.path, headers: request.headers };
  const responses: Responses = { latencies: [], times: [] };
  const instance = autocannon({
    url: server.url,
    connections,
    ...('amount' in length ? { amount: length.amount } : { duration: length.seconds }),
    timeout: 10,
    requests: [typeof body === 'function' ? { ...base, setupRequest: (r) => ({ ...r, body: body() }) } : { ...base, body }],
  });
  instance.on('response', (_client, _status, _bytes, latency) => {
    responses.latencies.push(latency);
    responses.times.push(performance.now());
  });
  return { result: await instance, responses };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : 0;
}

/** Requests per second over the second half of a run, when the JIT has done most of its work. */
function steadyRate({ times }: Responses): number {
  const half = Math.floor(times.length / 2);
  const span = (times[times.length - 1] - times[half]) / 1000;
  return span > 0 ? (times.length - 1 - half) / span : 0;
}

function failures(result: autocannon.Result): string[] {
  const problems: string[] = [];
  if (result.non2xx) {
    const codes = Object.entries(result.statusCodeStats)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, { count }]) => `${count}×${code}`);
    problems.push(`${result.non2xx} non-2xx answers (${codes.join(', ')})`);
  }
  if (result.errors) problems.push(`${result.errors} socket errors (${result.timeouts} timeouts)`);
  return problems;
}

export async function measureScenario(scenario: Scenario, target: TargetProcess, options: LoadOptions): Promise<Figures> {
  const server: ServerUnderTest = target.ready;
  const pool = scenario.consumesRefreshTokens ? new RefreshTokenPool(target) : undefined;
  const problems: string[] = [];
  await pool?.fill(warmupRequests(options) + 1);
  const request = scenario.request(server, pool?.take ?? (() => NOT_A_TOKEN));

  try {
    await checkSample(scenario, server, request);
  } catch (error) {
    return {
      rps: 0,
      p50_ms: 0,
      p99_ms: 0,
      requests: 0,
      non2xx: 0,
      errors: 0,
      cpu_us_per_request: 0,
      problems: [`sample check failed: ${(error as Error).message}`],
    };
  }

  if (options.warmup > 0) {
    // Refresh tokens are single-use, so that warm-up is a number of requests, not a time; its
    // steady pace sizes the pool for the measured run (autocannon may overrun by up to a second).
    const warm = await run(
      server,
      request,
      options.connections,
      pool ? { amount: Math.min(pool.size, warmupRequests(options)) } : { seconds: options.warmup },
    );
    problems.push(...failures(warm.result).map((p) => `warm-up: ${p}`));
    await pool?.fill(Math.ceil(steadyRate(warm.responses) * (options.duration + 1) * POOL_MARGIN) + 1000);
  } else {
    await pool?.fill(Math.ceil(INITIAL_TOKENS_PER_SECOND * (options.duration + 1)));
  }

  const before = await target.stats();
  const { result, responses } = await run(server, request, options.connections, { seconds: options.duration });
  const after = await target.stats();
  problems.push(...failures(result));
  if (pool?.exhausted) problems.push(`the refresh token pool ran dry (${pool.exhausted} requests sent an unusable token)`);

  const requests = result.requests.total;
  const latencies = responses.latencies.sort((a, b) => a - b);
  return {
    rps: result.requests.average,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    requests,
    non2xx: result.non2xx,
    errors: result.errors,
    cpu_us_per_request: requests > 0 ? (after.cpu - before.cpu) / requests : 0,
    ...(before.queries !== undefined && after.queries !== undefined && requests > 0
      ? { sql_per_request: (after.queries - before.queries) / requests }
      : {}),
    problems,
  };
}
