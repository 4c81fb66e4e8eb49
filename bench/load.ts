// Measuring one scenario on one server: check a sample answer, warm up, then load it with
// autocannon, round by round. Every non-2xx answer, socket error and timeout is counted and
// turned into a problem, so a scenario that errs is flagged rather than reported as fast.
import { request as httpRequest } from 'node:http';
import autocannon from 'autocannon';
import type { Scenario, ScenarioRequest, ServerUnderTest } from './scenarios.ts';
import type { TargetProcess } from './target.ts';

export interface LoadOptions {
  /** Seconds of measured load per server and scenario, over all its rounds. */
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

export function percentile(sorted: number[], p: number): number {
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

/**
 * One scenario on one server, measured in rounds: the caller alternates the rounds of the two
 * servers, so that a slow spell of this shared machine falls on both rather than on whichever
 * happened to be running.
 */
export class ScenarioMeasurement {
  private readonly target: TargetProcess;
  private readonly options: LoadOptions;
  private readonly pool?: RefreshTokenPool;
  private readonly request: ScenarioRequest;
  private readonly problems: string[] = [];
  private readonly latencies: number[] = [];
  /** Responses per second while warming up, to size the refresh token pool (0: not known). */
  private pace = 0;
  private requests = 0;
  private seconds = 0;
  private non2xx = 0;
  private errors = 0;
  private cpu = 0;
  private queries?: number;
  private failedSample = false;

  private constructor(scenario: Scenario, target: TargetProcess, options: LoadOptions, pool?: RefreshTokenPool) {
    this.target = target;
    this.options = options;
    this.pool = pool;
    this.request = scenario.request(target.ready, pool?.take ?? (() => NOT_A_TOKEN));
  }

  /** Checks a sample answer, then warms the server up. */
  static async prepare(scenario: Scenario, target: TargetProcess, options: LoadOptions): Promise<ScenarioMeasurement> {
    const pool = scenario.consumesRefreshTokens ? new RefreshTokenPool(target) : undefined;
    await pool?.fill(warmupRequests(options) + 1);
    const measurement = new ScenarioMeasurement(scenario, target, options, pool);
    try {
      await checkSample(scenario, target.ready, measurement.request);
    } catch (error) {
      measurement.failedSample = true;
      measurement.problems.push(`sample check failed: ${(error as Error).message}`);
      return measurement;
    }
    await measurement.warmUp();
    return measurement;
  }

  private async warmUp(): Promise<void> {
    if (this.options.warmup <= 0) return;
    const { pool } = this;
    // Refresh tokens are single-use, so that warm-up is a number of requests, not a time.
    const length = pool ? { amount: Math.min(pool.size, warmupRequests(this.options)) } : { seconds: this.options.warmup };
    const warm = await run(this.target.ready, this.request, this.options.connections, length);
    this.problems.push(...failures(warm.result).map((p) => `warm-up: ${p}`));
    this.pace = steadyRate(warm.responses);
  }

  /** Loads the server for `seconds` and adds what it saw to the totals. */
  async round(seconds: number): Promise<void> {
    if (this.failedSample) return;
    // Enough tokens for the round at the warm-up's pace, with head-room (autocannon may
    // overrun by up to a second, and the round may go faster than the warm-up).
    const pace = this.pace || INITIAL_TOKENS_PER_SECOND;
    await this.pool?.fill(Math.ceil(pace * (seconds + 1) * POOL_MARGIN) + 1000);

    const before = await this.target.stats();
    const { result, responses } = await run(this.target.ready, this.request, this.options.connections, { seconds });
    const after = await this.target.stats();
    this.problems.push(...failures(result));
    this.requests += result.requests.total;
    this.seconds += result.duration;
    this.non2xx += result.non2xx;
    this.errors += result.errors;
    this.cpu += after.cpu - before.cpu;
    if (before.queries !== undefined && after.queries !== undefined) this.queries = (this.queries ?? 0) + after.queries - before.queries;
    for (const latency of responses.latencies) this.latencies.push(latency);
  }

  figures(): Figures {
    const { requests, pool } = this;
    const problems = [...this.problems];
    if (pool?.exhausted) problems.push(`the refresh token pool ran dry (${pool.exhausted} requests sent an unusable token)`);
    const latencies = this.latencies.sort((a, b) => a - b);
    return {
      rps: this.seconds > 0 ? requests / this.seconds : 0,
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      requests,
      non2xx: this.non2xx,
      errors: this.errors,
      cpu_us_per_request: requests > 0 ? this.cpu / requests : 0,
      ...(this.queries !== undefined && requests > 0 ? { sql_per_request: this.queries / requests } : {}),
      problems,
    };
  }
}
