// A TCP port on the loopback interface that was free a moment ago: found by listening on port 0
// and closing, so another process can take it before it is bound again. Tests should not use it:
// they bind port 0 and keep it (listenOnFreePort in src/server.ts, startTestServer), or start
// `src/main.ts` with PORT=0 and read the port from its banner. Left for the benchmark, whose
// bare baseline process imports it (kept free of other imports, so that process's memory is
// oidc-provider's alone).
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
