// A PostgreSQL server reachable through a TCP relay that a test can unplug and plug back in, to
// see how Gatehouse behaves while its database is unreachable. Behind the relay is the real
// server when DATABASE_URL is set, otherwise PGlite served over the wire protocol by
// @electric-sql/pglite-socket (the same PGlite, just reachable over TCP).
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
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
  // Port 0: the socket server binds a port the system picks and keeps it; it says which.
  const socketServer = new PGLiteSocketServer({ db: pglite, port: 0, host: '127.0.0.1', maxConnections: 4 });
  await socketServer.start();
  const port = Number(socketServer.getServerConn().split(':').pop());
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
  const sockets = new Set<Socket>();

  // The relay binds once and keeps its port (one closed and bound again may be taken by then):
  // unplugged, it resets each connection as it arrives, so the client sees ECONNRESET at once.
  let plugged = true;
  const relay: Server = createServer((downstream) => {
    if (!plugged) return void downstream.resetAndDestroy();
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
  const port = await new Promise<number>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(0, '127.0.0.1', () => resolve((relay.address() as AddressInfo).port));
  });

  const plugIn = async () => {
    plugged = true;
  };

  const unplug = async () => {
    plugged = false;
    for (const s of sockets) s.destroy();
    sockets.clear();
  };

  return {
    url: `postgres://postgres@127.0.0.1:${port}/${target.database}`,
    unplug,
    plugIn,
    dispose: async () => {
      await unplug();
      await new Promise((resolve) => relay.close(resolve));
      await target.dispose();
    },
  };
}
