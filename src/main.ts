// `npm start`: validate configuration, start the server, stop cleanly on SIGTERM/SIGINT.
import { loadConfig, ConfigError, type Config } from './config.ts';
import { startServer } from './server.ts';
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
  const running = await startServer(config);
  const admin = config.databaseUrl ? undefined : await startAdminSocket(config, running.database, () => running.reloadKeys());

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
        '    npm run cli -- users create --email you@example.com --password "choose-a-password"',
        '    npm run cli -- clients create --name "My app" --redirect-uri http://localhost:8080/callback',
        '',
      ].join('\n') + '\n',
    );
  }

  const shutdown = async (signal: string) => {
    logger.info('shutting down', { signal });
    await admin?.close();
    await running.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  logger.error('failed to start', { error: (error as Error).message });
  process.stderr.write(`Gatehouse could not start: ${(error as Error).message}\n`);
  process.exit(1);
});
