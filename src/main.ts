// `npm start`: validate configuration, start the server, stop cleanly on SIGTERM/SIGINT, read
// the declarative files again on SIGHUP.
import type { Server } from 'node:net';
import { loadConfig, ConfigError, type Config } from './config.ts';
import { listenOnFreePort, startServer } from './server.ts';
import { logger } from './http/logger.ts';
import { startAdminSocket } from './cli/adminSocket.ts';

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // PORT=0 lets the system pick the port. The default issuer names the port, so it is bound
  // first and the configuration read again with the port we got (an ISSUER set stays as set).
  let listener: Server | undefined;
  if (config.port === 0) {
    const bound = await listenOnFreePort(config.host);
    listener = bound.listener;
    config = loadConfig({ ...process.env, PORT: String(bound.port) });
  }
  // The admin socket is opened before the HTTP port, so a DATA_DIR it cannot live in stops the
  // start instead of leaving a server the CLI cannot reach.
  const running = await startServer(config, {
    listener,
    beforeListen: config.databaseUrl ? undefined : (started) => startAdminSocket(config, started.database, started.reloadKeys),
  });

  const discovery = `${config.issuer}/.well-known/openid-configuration`;
  logger.info('gatehouse started', { issuer: config.issuer, discovery, listening: running.url, database: running.database.kind });
  if (config.env !== 'production') {
    process.stdout.write(
      [
        '',
        `  Gatehouse is running: ${config.issuer}`,
        `  Discovery:  ${discovery}`,
        `  Database:   ${running.database.kind === 'pglite' ? `embedded PostgreSQL in ${config.dataDir}` : 'PostgreSQL (DATABASE_URL)'}`,
        '',
        '  Next, in another terminal:',
        '    npm run cli -- users create --email you@example.com --password-stdin',
        '    npm run cli -- clients create --name "My app" --redirect-uri http://localhost:8080/callback',
        '',
      ].join('\n') + '\n',
    );
  }

  const shutdown = async (signal: string) => {
    logger.info('shutting down', { signal });
    await running.close();
    process.exit(0);
  };
  // SIGHUP reads config/'s files again (the profile schema, the policies); see server.ts.
  process.on('SIGHUP', () => void running.reloadDeclarations());
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  logger.error('failed to start', { error: (error as Error).message });
  process.stderr.write(`Gatehouse could not start: ${(error as Error).message}\n`);
  process.exit(1);
});
