// A PostgreSQL server reachable through a TCP relay that a test can unplug and plug back in, to
// see how Gatehouse behaves while its database is unreachable. Behind the relay is the real
// server when DATABASE_URL is set, otherwise PGlite served over the wire protocol by
// @electric-sql/pglite-socket (the same PGlite, just reachable over TCP).
import { createServer, connect, type Server, type Socket } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { freePort } from './server.ts';
import { createScratchDatabase } from './database.ts';

export interface UnpluggableDatabase {
  /** Connection string that goes through the relay. */
  url: string;
  unplug(): Promise<void>;
  plugIn(): Promise<void>;
  dispose(): Promise<void>;
}

async function backend(): Promise<{ host: string; port: number; database: string; dispose(): Promise<void> }> {
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) {
    const scratch = await createScratchDatabase(serverUrl);
    const parsed = new URL(serverUrl);
    return { host: parsed.hostname, port: Number(parsed.port || 5432), database: scratch.name, dispose: scratch.drop };
  }
  const pglite = await PGlite.create();
  const port = await freePort();
  const socketServer = new PGLiteSocketServer({ db: pglite, port, host: '127.0.0.1', maxConnections: 4 });
  await socketServer.start();
  return {
    host: '127.0.0.1',
    port,
    database: 'postgres',
    dispose: async () => {
      await socketServer.stop();
      await pglite.close();
    },
  };
}

export async function unpluggableDatabase(): Promise<UnpluggableDatabase> {
  const target = await backend();
  const port = await freePort();
  const sockets = new Set<Socket>();
  let relay: Server | undefined;

  const plugIn = () =>
    new Promise<void>((resolve, reject) => {
      relay = createServer((downstream) => {
        const upstream = connect(target.port, target.host);
        for (const s of [downstream, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {
            downstream.destroy();
            upstream.destroy();
          });
        }
        downstream.pipe(upstream).pipe(downstream);
      });
      relay.once('error', reject);
      relay.listen(port, '127.0.0.1', () => resolve());
    });

  const unplug = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!relay) return resolve();
      relay.close(() => resolve());
      relay = undefined;
    });

  await plugIn();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${target.database}`,
    unplug,
    plugIn,
    dispose: async () => {
      await unplug();
      await target.dispose();
    },
  };
}
