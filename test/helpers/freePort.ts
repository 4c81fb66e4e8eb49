// A free TCP port on the loopback interface. Kept free of other imports: the benchmark's bare
// baseline process uses it too, and its memory should be oidc-provider's alone.
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
