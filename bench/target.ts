// A server under test runs in its own process, so the load generator's memory and CPU are not
// counted as the server's. This is the contract between the two: the child announces itself
// once ready, then answers the bench's requests (mint refresh tokens, seed password users, report
// RSS and SQL count).
import { fork, type ChildProcess } from 'node:child_process';

export interface Ready {
  type: 'ready';
  url: string;
  issuer: string;
  clientSecret: string;
  database: 'pglite' | 'postgres' | 'memory';
  /** Resident set size right after the server started listening, before any seeding. */
  rssAfterStart: number;
}

export interface Stats {
  rss: number;
  /** CPU time (user + system) the process has used so far, in microseconds. */
  cpu: number;
  /** SQL statements sent so far (undefined where there is no database). */
  queries?: number;
}

/** An account the password sign-in measurement signs in to (email verified). */
export interface SeedUser {
  email: string;
  password: string;
}

type Call =
  | { type: 'mint'; count: number }
  | { type: 'stats' }
  | { type: 'seedUsers'; users: SeedUser[]; cost: number }
  | { type: 'hashCosts'; emails: string[] };
type Request = (Call & { id: number }) | { type: 'stop' };
type Reply =
  | { id: number; type: 'minted'; tokens: string[] }
  | { id: number; type: 'stats'; stats: Stats }
  | { id: number; type: 'seeded' }
  | { id: number; type: 'hashCosts'; costs: (number | null)[] }
  | { id: number; type: 'failed'; message: string };

/** What a server process offers the bench. */
export interface Target {
  ready: Omit<Ready, 'type'>;
  mintRefreshTokens(count: number): Promise<string[]>;
  /** Creates these accounts with their passwords hashed at bcrypt `cost` (Gatehouse only). */
  seedUsers?(users: SeedUser[], cost: number): Promise<void>;
  /** The bcrypt cost of each account's stored password hash (null: no account or no password). */
  hashCosts?(emails: string[]): Promise<(number | null)[]>;
  queries?(): number;
  close(): Promise<void>;
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

const unsupported = (what: string) => new Error(`this server cannot ${what}`);

async function answer(target: Target, message: Call & { id: number }): Promise<Reply> {
  const { id } = message;
  switch (message.type) {
    case 'mint':
      return { id, type: 'minted', tokens: await target.mintRefreshTokens(message.count) };
    case 'stats':
      return { id, type: 'stats', stats: { rss: process.memoryUsage().rss, cpu: cpuMicros(), queries: target.queries?.() } };
    case 'seedUsers':
      if (!target.seedUsers) throw unsupported('seed users');
      await target.seedUsers(message.users, message.cost);
      return { id, type: 'seeded' };
    case 'hashCosts':
      if (!target.hashCosts) throw unsupported('report password hashes');
      return { id, type: 'hashCosts', costs: await target.hashCosts(message.emails) };
  }
}

/** Child side: start the target, announce it, serve the bench's requests until told to stop. */
export async function serveTarget(start: () => Promise<Target>): Promise<void> {
  if (!process.send) throw new Error('run this through bench/run.ts (it needs an IPC channel)');
  const send = (message: Ready | Reply) => process.send?.(message);
  let target: Target | undefined;
  // The one way out: the channel closes, because the bench said stop or because it died.
  process.once('disconnect', () => {
    void Promise.resolve(target?.close()).finally(() => process.exit(0));
  });
  target = await start();
  const running = target;
  process.on('message', (message: Request) => {
    if (message.type === 'stop') return process.disconnect();
    void (async () => {
      try {
        send(await answer(running, message));
      } catch (error) {
        send({ id: message.id, type: 'failed', message: (error as Error).stack ?? String(error) });
      }
    })();
  });
  send({ type: 'ready', ...running.ready });
}

/** Parent side: a running server process. */
export class TargetProcess {
  readonly ready: Ready;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess, ready: Ready, exited: Promise<number | null>) {
    this.child = child;
    this.ready = ready;
    this.exited = exited;
    child.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.type === 'failed') waiter.reject(new Error(reply.message));
      else waiter.resolve(reply);
    });
    void exited.then((code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`server process exited (${code})`));
      this.pending.clear();
    });
  }

  /** Forks `script`; its stdout goes to our stderr so that only the report reaches stdout. */
  static async spawn(script: URL, env: Record<string, string>, execArgv: string[] = []): Promise<TargetProcess> {
    const child = fork(script, [], { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 2, 2, 'ipc'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = await new Promise<Ready>((resolve, reject) => {
      child.once('message', (message: Ready) => resolve(message));
      void exited.then((code) => reject(new Error(`${script.pathname} exited (${code}) before it was ready`)));
    });
    return new TargetProcess(child, ready, exited);
  }

  private request(message: Call): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...message, id });
    });
  }

  async mintRefreshTokens(count: number): Promise<string[]> {
    const reply = await this.request({ type: 'mint', count });
    if (reply.type !== 'minted') throw new Error('unexpected reply');
    return reply.tokens;
  }

  async seedUsers(users: SeedUser[], cost: number): Promise<void> {
    const reply = await this.request({ type: 'seedUsers', users, cost });
    if (reply.type !== 'seeded') throw new Error('unexpected reply');
  }

  async hashCosts(emails: string[]): Promise<(number | null)[]> {
    const reply = await this.request({ type: 'hashCosts', emails });
    if (reply.type !== 'hashCosts') throw new Error('unexpected reply');
    return reply.costs;
  }

  async stats(): Promise<Stats> {
    const reply = await this.request({ type: 'stats' });
    if (reply.type !== 'stats') throw new Error('unexpected reply');
    return reply.stats;
  }

  /** Asks the process to close everything and waits for it to exit; kills it if it hangs. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    const code = await this.exited;
    clearTimeout(timer);
    if (code !== 0) process.stderr.write(`warning: ${this.ready.url} exited with code ${code}\n`);
  }
}
