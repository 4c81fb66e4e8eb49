// PGlite reached the way a PostgreSQL server is: over the wire protocol, through
// @electric-sql/pglite-socket, so what Gatehouse does only with the `pg` driver (named prepared
// statements, its own pool) runs on the embedded database too. Every connection shares PGlite's
// one session, as connections behind a pooler share server sessions.
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface PgliteOverTcp {
  url: string;
  dispose(): Promise<void>;
}

export async function pgliteOverTcp(): Promise<PgliteOverTcp> {
  const pglite = await PGlite.create();
  // Port 0: the socket server binds a port the system picks, keeps it, and says which.
  const socketServer = new PGLiteSocketServer({ db: pglite, port: 0, host: '127.0.0.1', maxConnections: 4 });
  await socketServer.start();
  return {
    url: `postgres://postgres@${socketServer.getServerConn()}/postgres`,
    dispose: async () => {
      await socketServer.stop();
      await pglite.close();
    },
  };
}
