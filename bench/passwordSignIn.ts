// Password sign-in, measured on Gatehouse alone (the bare oidc-provider has no sign-in screen):
//
// 1. Completed sign-ins per second: each virtual user is a browser with its own session and
//    address, which asks /auth with prompt=login, gets the sign-in screen, posts its email and
//    password, and follows the redirects to the client's redirect URI with a code (4 requests).
//    Consent is remembered in the browser's session, not across sessions, so each browser signs
//    in and consents once beforehand; prompt=login then makes every measured round trip a full
//    password sign-in that ends at the code, not at the consent screen. The code is not redeemed
//    (token requests are measured by the other scenarios). Each browser comes from an address of
//    its own (X-Forwarded-For; the bench's Gatehouse trusts its proxy), and a right password gives
//    its point back to the per-address limits, so no limit is near while this runs.
// 2. The hashing limit, in the same run: bcrypt compares per second in this process, of the same
//    input the server compares (verifyPasswordHash: the HMAC pre-hash, then bcrypt at the same
//    cost), as many at once as there are virtual users. Both processes use libuv's default pool of
//    4 threads for bcrypt. The two are measured in alternating rounds, so a slow spell of the
//    machine falls on both sides of the ratio.
// 3. Whether the time of a failed attempt tells who has an account: wrong passwords for known
//    and unknown emails, one at a time, interleaved, each from its own address and on its own
//    account, so no throttle answers (a 429 would come back fast and skew the figures; every
//    sample must be a 401). Then the same for accounts hashed at another cost than the server's,
//    before (a control: they do differ) and after a successful sign-in renewed their hashes.
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashPassword, verifyPasswordHash } from '../src/accounts/passwords/index.ts';
import { BENCH_PASSWORD, CLIENT_ID, REDIRECT_URI } from './fixtures.ts';
import { type Answer, FormBrowser } from './formBrowser.ts';
import { percentile } from './load.ts';
import type { ServerUnderTest } from './scenarios.ts';
import type { SeedUser, TargetProcess } from './target.ts';

export interface PasswordSignInOptions {
  /** Seconds of measured load, half on sign-ins and half on bare compares. */
  duration: number;
  rounds: number;
  warmup: number;
  /** Virtual users signing in at once (and bcrypt compares at once). */
  users: number;
  /** The server's BCRYPT_COST, and the cost of the compares beside it. */
  bcryptCost: number;
  /** Failed attempts timed per kind (known, unknown email) and per comparison. */
  samples: number;
}

export interface Timing {
  p50_ms: number;
  p90_ms: number;
}

export interface TimingComparison {
  known: Timing;
  unknown: Timing;
  /** Median of known minus median of unknown. */
  difference_ms: number;
  /** Whether the medians differ by less than MATCH_TOLERANCE of the unknown email's. */
  match: boolean;
}

export interface PasswordSignInFigures {
  bcrypt_cost: number;
  users: number;
  signins_per_s: number;
  p50_ms: number;
  p99_ms: number;
  bcrypt_compares_per_s: number;
  /** Sign-ins per second over compares per second (goal: at least 0.9). */
  ratio: number;
  requests_per_signin: number;
  server_cpu_ms_per_signin: number;
  /** The load generator's own CPU per sign-in: it shares the machine with the server. */
  bench_cpu_ms_per_signin: number;
  bcrypt_cpu_ms_per_compare: number;
  sql_per_signin?: number;
  baseline: string;
  failed_attempt: {
    samples: number;
    /** Every hash at the server's cost. */
    known_vs_unknown: TimingComparison;
    /** The cost the second set of accounts was hashed at, before the server renewed them. */
    seeded_cost: number;
    before_rehash: TimingComparison;
    after_rehash: TimingComparison;
  };
  ok: boolean;
  problems?: string[];
}

export const NO_BASELINE = 'none: a bare oidc-provider has no password sign-in';
/** The cost the timing accounts are hashed at before the server (at its BCRYPT_COST) renews them. */
export const SEEDED_COST = 4;
const MATCH_TOLERANCE = 0.1;
const WRONG_PASSWORD = 'not-the-bench-password';
/** Untimed attempts of each kind before the timed ones: the first requests of a path run colder. */
const TIMING_WARMUP = 3;
/** Time for every virtual user to be mid-flight before completions are counted. */
const RAMP_MS = 200;
const REQUESTS_PER_SIGNIN = 4;

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const log = (line: string) => process.stderr.write(`${line}\n`);

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

// The X-Forwarded-For of a browser: 10.<group>.x.y, one address per browser.
const address = (group: number, index: number) => `10.${group}.${(index >> 8) & 255}.${index & 255}`;

function authorizationPath(state: string, challenge: string, prompt?: 'login'): string {
  const params = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(prompt ? { prompt } : {}),
  });
  return `/auth?${params}`;
}

const pkceChallenge = () => createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');

function expectScreen(page: Answer, action: RegExp, what: string): void {
  expect(page.status === 200 && action.test(page.html), `expected the ${what} screen, got ${page.status} at ${page.path}`);
}

function expectCode(answer: Answer, state: string): void {
  const to = answer.location;
  expect(
    to && `${to.origin}${to.pathname}` === REDIRECT_URI,
    `expected the redirect to the client, got ${answer.status} at ${answer.path}`,
  );
  expect(!to.searchParams.has('error'), `the client got ${to.searchParams.get('error')}: ${to.searchParams.get('error_description')}`);
  expect(to.searchParams.get('code') && to.searchParams.get('state') === state, 'the redirect carries no code, or another state');
}

/** A browser that signs one account in, over and over. */
class VirtualUser {
  private readonly browser: FormBrowser;
  private readonly email: string;
  private readonly challenge = pkceChallenge();
  private signIns = 0;

  constructor(server: ServerUnderTest, email: string, forwardedFor: string) {
    this.browser = new FormBrowser(server, forwardedFor);
    this.email = email;
  }

  /** The first sign-in: a new session, which the client is then allowed into (consent). */
  async signInAndConsent(): Promise<void> {
    const state = `consent-${this.email}`;
    const login = await this.browser.open(authorizationPath(state, this.challenge));
    expectScreen(login, /\/password"/, 'sign-in');
    const consent = await this.browser.follow(
      await this.browser.post(login, /\/password$/, { email: this.email, password: BENCH_PASSWORD }),
    );
    expectScreen(consent, /\/consent"/, 'consent');
    expectCode(await this.browser.follow(await this.browser.post(consent, /\/consent$/, { decision: 'allow' })), state);
  }

  /** One measured sign-in: screen, password, redirects to the code. */
  signIn = async (): Promise<void> => {
    const state = `s${this.signIns++}`;
    const login = await this.browser.open(authorizationPath(state, this.challenge, 'login'));
    expectScreen(login, /\/password"/, 'sign-in');
    const posted = await this.browser.post(login, /\/password$/, { email: this.email, password: BENCH_PASSWORD });
    expect(posted.status === 303, `the sign-in form answered ${posted.status}`);
    expectCode(await this.browser.follow(posted), state);
  };

  close(): void {
    this.browser.close();
  }
}

interface RateResult {
  completed: number;
  seconds: number;
  latencies: number[];
  failures: string[];
}

/**
 * Runs `operation` in `workers` loops; counts what completes in a window of `seconds` that opens
 * once all are under way, so neither the start nor the tail of the last operations skews the
 * rate. `probe` is read as the window opens and as it closes.
 */
async function measureRate<P>(
  workers: number,
  seconds: number,
  operation: (worker: number) => Promise<void>,
  probe: () => Promise<P> | P,
): Promise<RateResult & { probes: [P, P] }> {
  let counting = false;
  let stopped = false;
  const result: RateResult = { completed: 0, seconds: 0, latencies: [], failures: [] };
  const loop = async (worker: number) => {
    while (!stopped) {
      const start = performance.now();
      try {
        await operation(worker);
      } catch (error) {
        // This worker stops: a fast stream of failures must not pass for speed.
        result.failures.push((error as Error).message);
        return;
      }
      if (counting) {
        result.completed++;
        result.latencies.push(performance.now() - start);
      }
    }
  };
  const loops = Array.from({ length: workers }, (_, worker) => loop(worker));
  await sleep(RAMP_MS);
  const first = await probe();
  counting = true;
  const opened = performance.now();
  await sleep(seconds * 1000);
  counting = false;
  result.seconds = (performance.now() - opened) / 1000;
  const last = await probe();
  stopped = true;
  await Promise.all(loops);
  return { ...result, probes: [first, last] };
}

const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** What the throughput half of the measurement adds up to, over its rounds. */
class Totals {
  completed = 0;
  seconds = 0;
  cpu = 0;
  /** This process's CPU, when `cpu` is another's. */
  ownCpu = 0;
  queries?: number;
  latencies: number[] = [];
  failures: string[] = [];

  add(result: RateResult, cpu: number, ownCpu = 0, queries?: number) {
    this.completed += result.completed;
    this.seconds += result.seconds;
    this.cpu += cpu;
    this.ownCpu += ownCpu;
    if (queries !== undefined) this.queries = (this.queries ?? 0) + queries;
    for (const latency of result.latencies) this.latencies.push(latency);
    this.failures.push(...result.failures);
  }

  get rate() {
    return this.seconds > 0 ? this.completed / this.seconds : 0;
  }
}

async function measureThroughput(target: TargetProcess, options: PasswordSignInOptions, problems: string[]) {
  const server = target.ready;
  const emails = Array.from({ length: options.users }, (_, i) => `signin-${i}@bench.example`);
  await target.seedUsers(
    emails.map((email) => ({ email, password: BENCH_PASSWORD })),
    options.bcryptCost,
  );
  const users = emails.map((email, i) => new VirtualUser(server, email, address(0, i + 1)));
  const storedHash = await hashPassword(BENCH_PASSWORD, options.bcryptCost);
  const compare = async () => {
    expect(await verifyPasswordHash(BENCH_PASSWORD, storedHash), 'bcrypt said the password is wrong');
  };
  const signIn = (worker: number) => users[worker].signIn();
  const signIns = new Totals();
  const compares = new Totals();
  try {
    await Promise.all(users.map((user) => user.signInAndConsent()));
    if (options.warmup > 0) {
      log('password_signin: warming up…');
      const warm = await Promise.all([
        measureRate(options.users, options.warmup, signIn, () => undefined),
        measureRate(options.users, options.warmup / 2, compare, () => undefined),
      ]);
      for (const { failures } of warm) problems.push(...failures.map((f) => `warm-up: ${f}`));
    }
    const roundSeconds = options.duration / 2 / options.rounds;
    const measureSignIns = async () => {
      const probe = async () => ({ server: await target.stats(), bench: cpuMicros() });
      const result = await measureRate(options.users, roundSeconds, signIn, probe);
      const [{ server: before, bench: benchBefore }, { server: after, bench: benchAfter }] = result.probes;
      const queries = before.queries !== undefined && after.queries !== undefined ? after.queries - before.queries : undefined;
      signIns.add(result, after.cpu - before.cpu, benchAfter - benchBefore, queries);
    };
    const measureCompares = async () => {
      const result = await measureRate(options.users, roundSeconds, compare, cpuMicros);
      compares.add(result, result.probes[1] - result.probes[0]);
    };
    for (let r = 0; r < options.rounds; r++) {
      log(`password_signin: round ${r + 1} of ${options.rounds}…`);
      const order = r % 2 === 0 ? [measureCompares, measureSignIns] : [measureSignIns, measureCompares];
      for (const measure of order) await measure();
    }
  } finally {
    for (const user of users) user.close();
  }
  const first = (failures: string[]) => `${failures.length} failed (first: ${failures[0]})`;
  if (signIns.failures.length) problems.push(`sign-ins: ${first(signIns.failures)}`);
  if (compares.failures.length) problems.push(`bcrypt compares: ${first(compares.failures)}`);
  if (!signIns.completed) problems.push('no sign-in completed');
  return { signIns, compares };
}

/** One wrong password for `email` on the sign-in screen `login`: the time of the form post alone. */
async function failedAttempt(browser: FormBrowser, login: Answer, email: string): Promise<{ ms: number; status: number }> {
  const start = performance.now();
  const answer = await browser.post(login, /\/password$/, { email, password: WRONG_PASSWORD });
  return { ms: performance.now() - start, status: answer.status };
}

const timing = (samples: number[]): Timing => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50_ms: round(percentile(sorted, 50), 2), p90_ms: round(percentile(sorted, 90), 2) };
};

/**
 * Known against unknown emails, in pairs whose order alternates; the first TIMING_WARMUP pairs
 * are not counted. `known[i]` and the unknown emails are each tried once, each from an address of
 * its own, all on one sign-in screen (a failed attempt leaves the interaction as it was) over one
 * connection, so the timed post is all that differs.
 */
async function compareFailedAttempts(
  server: ServerUnderTest,
  group: number,
  known: string[],
  samples: number,
  problems: string[],
  label: string,
): Promise<TimingComparison> {
  const times = { known: [] as number[], unknown: [] as number[] };
  const statuses = new Map<number, number>();
  let attempt = 0;
  const browser = new FormBrowser(server);
  try {
    const login = await browser.open(authorizationPath('timing', pkceChallenge()));
    expectScreen(login, /\/password"/, 'sign-in');
    for (let i = 0; i < known.length; i++) {
      const pair = [
        ['known', known[i]],
        ['unknown', `nobody-${group}-${i}@bench.example`],
      ] as const;
      for (const [kind, email] of i % 2 === 0 ? pair : [...pair].reverse()) {
        browser.forwardedFor = address(group, attempt++);
        const { ms, status } = await failedAttempt(browser, login, email);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (i >= known.length - samples) times[kind].push(ms);
      }
    }
  } finally {
    browser.close();
  }
  const refused = [...statuses].filter(([status]) => status !== 401);
  if (refused.length) problems.push(`${label}: not every wrong password got 401 (${refused.map(([s, n]) => `${n}×${s}`).join(', ')})`);
  const comparison = { known: timing(times.known), unknown: timing(times.unknown) };
  const difference = comparison.known.p50_ms - comparison.unknown.p50_ms;
  return { ...comparison, difference_ms: round(difference, 2), match: Math.abs(difference) < MATCH_TOLERANCE * comparison.unknown.p50_ms };
}

/** A successful sign-in for each account (as far as the 303 that ends the login prompt), a few at once. */
async function signInOnce(server: ServerUnderTest, emails: string[], group: number, atOnce: number): Promise<void> {
  const signIn = async (email: string, i: number) => {
    const browser = new FormBrowser(server, address(group, i));
    try {
      const login = await browser.open(authorizationPath('rehash', pkceChallenge()));
      const posted = await browser.post(login, /\/password$/, { email, password: BENCH_PASSWORD });
      expect(posted.status === 303, `signing ${email} in answered ${posted.status}`);
    } finally {
      browser.close();
    }
  };
  for (let i = 0; i < emails.length; i += atOnce) await Promise.all(emails.slice(i, i + atOnce).map((email, j) => signIn(email, i + j)));
}

const accounts = (prefix: string, count: number): SeedUser[] =>
  Array.from({ length: count }, (_, i) => ({ email: `${prefix}-${i}@bench.example`, password: BENCH_PASSWORD }));

async function expectCosts(target: TargetProcess, emails: string[], cost: number, when: string, problems: string[]) {
  const costs = await target.hashCosts(emails);
  const others = costs.filter((c) => c !== cost);
  if (others.length) problems.push(`${when}: ${others.length} of ${emails.length} hashes are not at cost ${cost} (${others.join(', ')})`);
}

async function measureTiming(target: TargetProcess, { samples, users, bcryptCost }: PasswordSignInOptions, problems: string[]) {
  const server = target.ready;
  const count = samples + TIMING_WARMUP;
  const known = accounts('known', count);
  const reseeded = accounts('rehashed', count);
  await target.seedUsers(known, bcryptCost);
  await target.seedUsers(reseeded, SEEDED_COST);
  const reseededEmails = reseeded.map((u) => u.email);
  await expectCosts(target, reseededEmails, SEEDED_COST, 'seeded', problems);

  log(`password_signin: timing failed sign-ins at cost ${bcryptCost}…`);
  const atCost = await compareFailedAttempts(
    server,
    1,
    known.map((u) => u.email),
    samples,
    problems,
    `cost ${bcryptCost}`,
  );
  log(`password_signin: timing failed sign-ins for hashes made at cost ${SEEDED_COST}, then renewed…`);
  const before = await compareFailedAttempts(server, 2, reseededEmails, samples, problems, 'before rehash');
  await signInOnce(server, reseededEmails, 3, users);
  await expectCosts(target, reseededEmails, bcryptCost, 'after one sign-in', problems);
  const after = await compareFailedAttempts(server, 4, reseededEmails, samples, problems, 'after rehash');
  for (const [label, comparison] of [
    [`cost ${bcryptCost}`, atCost],
    ['after rehash', after],
  ] as const) {
    if (!comparison.match)
      problems.push(
        `${label}: a failed sign-in takes ${comparison.known.p50_ms} ms for a known email, ${comparison.unknown.p50_ms} ms for an unknown one`,
      );
  }
  // The control: if the cheaper hashes did not show, the measurement could not see a difference.
  if (before.match) problems.push(`before rehash: cost-${SEEDED_COST} hashes were not told apart; the timing cannot be trusted`);
  return { atCost, before, after };
}

export async function measurePasswordSignIn(target: TargetProcess, options: PasswordSignInOptions): Promise<PasswordSignInFigures> {
  const problems: string[] = [];
  const { signIns, compares } = await measureThroughput(target, options, problems);
  const { atCost, before, after } = await measureTiming(target, options, problems);
  const latencies = signIns.latencies.sort((a, b) => a - b);
  return {
    bcrypt_cost: options.bcryptCost,
    users: options.users,
    signins_per_s: round(signIns.rate),
    p50_ms: round(percentile(latencies, 50), 2),
    p99_ms: round(percentile(latencies, 99), 2),
    bcrypt_compares_per_s: round(compares.rate),
    ratio: compares.rate > 0 ? round(signIns.rate / compares.rate, 2) : 0,
    requests_per_signin: REQUESTS_PER_SIGNIN,
    server_cpu_ms_per_signin: signIns.completed ? round(signIns.cpu / signIns.completed / 1000, 2) : 0,
    bench_cpu_ms_per_signin: signIns.completed ? round(signIns.ownCpu / signIns.completed / 1000, 2) : 0,
    bcrypt_cpu_ms_per_compare: compares.completed ? round(compares.cpu / compares.completed / 1000, 2) : 0,
    ...(signIns.queries !== undefined && signIns.completed ? { sql_per_signin: round(signIns.queries / signIns.completed, 1) } : {}),
    baseline: NO_BASELINE,
    failed_attempt: {
      samples: options.samples,
      known_vs_unknown: atCost,
      seeded_cost: SEEDED_COST,
      before_rehash: before,
      after_rehash: after,
    },
    ok: problems.length === 0,
    ...(problems.length ? { problems } : {}),
  };
}
