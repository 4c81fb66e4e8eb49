// Starting and stopping one Gatehouse instance: database, keys, provider, HTTP, background jobs.
// Used by `npm start` (main.ts), by the tests (random port) and by the benchmark.
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import type Provider from 'oidc-provider';
import type { Config } from './config.ts';
import { openDatabase, type Database } from './db/index.ts';
import { createSecretBox, SealedSecretError, type SecretBox } from './secrets/secretBox.ts';
import { checkSealedSecrets, SecretKeyMismatchError } from './secrets/startCheck.ts';
import { ensureKeys, loadKeys, keysFingerprint, KEY_RELOAD_INTERVAL_SECONDS, type KeyMaterial } from './oidc/keys.ts';
import { createClientStore, type ClientStore } from './oidc/clients.ts';
import { createProvider } from './oidc/index.ts';
import { createApp, featureDeps, observeProvider, type ProviderSlot } from './app.ts';
import { interactionPrompts, interactionUrl } from './interactions/index.ts';
import { logger, setLogLevel } from './http/logger.ts';
import { FEATURES } from './features.ts';
import { createAbuseDefence } from './abuse/index.ts';
import { createMailer } from './mail/index.ts';

export interface RunningServer {
  url: string;
  server: Server;
  database: Database;
  /** The provider in service (replaced when signing keys rotate), for seeding its models directly. */
  provider(): Provider;
  /** Picks up keys rotated by another process; returns true when the provider changed. */
  reloadKeys(): Promise<boolean>;
  /**
   * Reads the profile schema and policies files again (SIGHUP): the problems, with nothing
   * changed, or none, with the new ones in force and the provider rebuilt for their scopes.
   */
  reloadDeclarations(): string[];
  close(): Promise<void>;
}

export interface StartOptions {
  /** An already open database (tests share one per file). Not closed by close(). */
  database?: Database;
  keyWatchIntervalMs?: number;
  /** Runs once everything but the HTTP port is ready; what it returns is closed on close(). */
  beforeListen?: (started: { database: Database; reloadKeys: () => Promise<boolean> }) => Promise<{ close(): Promise<void> }>;
  /**
   * A socket already listening (see listenOnFreePort), served instead of binding config.port,
   * so the issuer can name a port the system picked. Closed with the server; if the start
   * fails it is still the caller's to close.
   */
  listener?: NetServer;
}

/**
 * Listens on a port the system picks (port 0) and says which. Binding first and keeping the
 * socket is what makes it ours: a port found free, closed and bound again later may be taken
 * by then. Nobody connects before the port is announced, so nothing waits on it meanwhile.
 */
export function listenOnFreePort(host: string): Promise<{ listener: NetServer; port: number }> {
  return new Promise((resolve, reject) => {
    const listener = createNetServer();
    listener.once('error', reject);
    listener.listen(0, host, () => resolve({ listener, port: (listener.address() as AddressInfo).port }));
  });
}

export { SecretKeyMismatchError, DamagedKeyError } from './secrets/startCheck.ts';

async function readKeys(database: Database, box: SecretBox): Promise<KeyMaterial> {
  // Every sealed value must open with SECRET_KEY (or SECRET_KEY_PREVIOUS) before anything is
  // created with it; the check names what is wrong (see startCheck.ts).
  await checkSealedSecrets(database.db, box);
  await ensureKeys(database.db, box);
  try {
    return await loadKeys(database.db, box);
  } catch (error) {
    // Another instance may have stored keys between the check and this read.
    if (error instanceof SealedSecretError && error.problem === 'unknown-key') throw new SecretKeyMismatchError();
    throw error;
  }
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  setLogLevel(config.logLevel);
  const ownsDatabase = !options.database;
  const database = options.database ?? (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  const { db } = database;
  const box = createSecretBox(config.secretKey, config.previousSecretKeys);
  const clients: ClientStore = createClientStore(db, box);

  let keys = await readKeys(database, box);
  const build = (material: KeyMaterial) => {
    const provider = createProvider(
      { config, db, box, keys: material, clients },
      { policy: interactionPrompts({ db, config }), interactionUrl },
    );
    observeProvider(provider, db);
    return provider;
  };
  const slot: ProviderSlot = { current: build(keys) };

  const reloadKeys = async () => {
    if ((await keysFingerprint(db)) === keys.fingerprint) return false;
    keys = await loadKeys(db, box);
    slot.current = build(keys);
    app.keys = keys.cookie;
    logger.info('signing keys reloaded', { keys: keys.signing.map((k) => k.kid) });
    return true;
  };

  const reloadDeclarations = () => {
    const problems = config.declarations.reload();
    if (problems.length) {
      logger.error('configuration files not reloaded: the previous ones stay in force', { problems });
      return problems;
    }
    slot.current = build(keys);
    logger.info('configuration files reloaded', { files: config.declarations.files });
    return problems;
  };

  const abuse = createAbuseDefence(database, config);
  // Sends the mail features queue: started by the mail feature, stopped before the database closes.
  const mailer = createMailer({ config, database, box });
  const appDeps = { config, database, box, clients, slot, reloadKeys: () => reloadKeys(), abuse, mailer };
  const app = createApp({ ...appDeps, cookieKeys: keys.cookie });

  let companion: { close(): Promise<void> } | undefined;
  try {
    for (const feature of FEATURES) await feature.start?.(featureDeps(appDeps));
    companion = await options.beforeListen?.({ database, reloadKeys });
  } catch (error) {
    await mailer.close();
    if (ownsDatabase) await database.close();
    throw error;
  }

  // Node looks for requests past these deadlines every connectionsCheckingInterval (30 s by
  // default, so a slowloris client kept its socket up to 30 s longer): once a second instead.
  const server = createServer({ connectionsCheckingInterval: 1_000 }, app.callback());
  // Slow clients must not hold sockets forever; keep-alive a little longer than common proxies.
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (options.listener) server.listen(options.listener, () => resolve());
      else server.listen(config.port, config.host, () => resolve());
    });
  } catch (error) {
    await companion?.close();
    await mailer.close();
    if (ownsDatabase) await database.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;

  const jobs = [
    setInterval(() => void sweep(database), config.sweepIntervalSeconds * 1000),
    setInterval(
      () => void reloadKeys().catch((e) => logger.warn('key reload failed', { error: (e as Error).message })),
      options.keyWatchIntervalMs ?? KEY_RELOAD_INTERVAL_SECONDS * 1000,
    ),
  ];
  for (const job of jobs) job.unref();

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      for (const job of jobs) clearInterval(job);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // In-flight requests get a grace period, then their sockets are closed.
        setTimeout(() => server.closeAllConnections(), 10_000).unref();
      });
      await companion?.close();
      await abuse.close();
      await mailer.close();
      if (ownsDatabase) await database.close();
    })();
    return closing;
  };

  return {
    url: `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${port}`,
    server,
    database,
    provider: () => slot.current,
    reloadKeys,
    reloadDeclarations,
    close,
  };
}

/** Runs every feature's sweepers; one failing does not stop the others. */
async function sweep(database: Database) {
  const swept: Record<string, number> = {};
  for (const sweeper of FEATURES.flatMap((f) => f.sweepers ?? [])) {
    try {
      const count = await sweeper.sweep(database);
      if (count) swept[sweeper.name] = count;
    } catch (error) {
      logger.warn('sweep failed', { sweeper: sweeper.name, error: (error as Error).message });
    }
  }
  if (Object.keys(swept).length) logger.info('swept expired rows', swept);
}
