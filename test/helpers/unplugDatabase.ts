// A PostgreSQL server reachable through a TCP relay that a test can unplug and plug back in, to
// see how Gatehouse behaves while its database is unreachable, or stall it: stop forwarding
// without closing anything, as a network partition does, so statements go out and nothing comes
// back. Behind the relay is the real server when DATABASE_URL is set, otherwise PGlite served
// over the wire protocol by @electric-sql/pglite-socket (the same PGlite, reachable over TCP).
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { createScratchDatabase } from './database.ts';

export interface UnpluggableDatabase {
  /** Connection string that goes through the relay. */
  url: string;
  unplug(): Promise<void>;
  plugIn(): Promise<void>;
  /**
   * A silent partition: the connections open now, and those opened until resume(), are no longer
   * forwarded but stay open; what the client sends is swallowed and nothing comes back.
   */
  stall(): void;
  /** New connections are forwarded again; the stalled ones stay stalled (like a NAT that forgot them). */
  resume(): void;
  /** Resolves once a stalled connection has swallowed something (a statement sent into the void). */
  swallowed(): Promise<void>;
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
  const pairs = new Set<{ downstream: Socket; upstream: Socket }>();
  let stalling = false;
  const swallowWaiters: (() => void)[] = [];

  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  // The client's bytes go nowhere; its socket stays open.
  const swallow = (downstream: Socket) => {
    downstream.on('error', () => downstream.destroy());
    downstream.on('data', () => {
      for (const resolve of swallowWaiters.splice(0)) resolve();
    });
    downstream.resume(); // unpipe() left it paused
  };

  // The relay binds once and keeps its port (one closed and bound again may be taken by then):
  // unplugged, it resets each connection as it arrives, so the client sees ECONNRESET at once.
  let plugged = true;
  const relay: Server = createServer((downstream) => {
    if (!plugged) return void downstream.resetAndDestroy();
    track(downstream);
    if (stalling) return swallow(downstream);
    const upstream = connect(target.port, target.host);
    track(upstream);
    const pair = { downstream, upstream };
    pairs.add(pair);
    upstream.on('close', () => pairs.delete(pair));
    for (const s of [downstream, upstream]) {
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

  // The server side is closed (the database sees its client go); the client side is not.
  const stall = () => {
    stalling = true;
    for (const pair of pairs) {
      pairs.delete(pair);
      pair.downstream.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.downstream);
      pair.upstream.destroy();
      swallow(pair.downstream);
    }
  };

  return {
    url: `postgres://postgres@127.0.0.1:${port}/${target.database}`,
    unplug,
    plugIn,
    stall,
    resume: () => {
      stalling = false;
    },
    swallowed: () => new Promise((resolve) => swallowWaiters.push(resolve)),
    dispose: async () => {
      await unplug();
      await new Promise((resolve) => relay.close(resolve));
      await target.dispose();
    },
  };
}
