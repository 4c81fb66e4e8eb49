// With the embedded database, only the server process may open DATA_DIR. So that `gatehouse`
// commands still work while `npm start` runs, the server listens on a Unix socket inside
// DATA_DIR (mode 0600: only the same OS user can connect) and runs the commands it is sent with
// its own database connection. Nothing listens on the network for this.
import { createServer, request, type Server } from 'node:http';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { Database } from '../db/index.ts';
import { commandContext } from './context.ts';
import { runCommand, type CommandOutcome } from './run.ts';
import { logger } from '../http/logger.ts';

/** A command and what the operator's process read for it (an IdP's metadata: up to 1 MB). */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export const adminSocketPath = (dataDir: string) => join(dataDir, 'admin.sock');

// Unix socket paths are limited to about 107 bytes.
const MAX_SOCKET_PATH = 100;

export class AdminSocketPathTooLongError extends Error {
  constructor(path: string) {
    super(`The admin socket path ${path} is too long for a Unix socket; use a shorter DATA_DIR`);
    this.name = 'AdminSocketPathTooLongError';
  }
}

export async function startAdminSocket(
  config: Config,
  database: Database,
  onKeysRotated?: () => Promise<unknown>,
): Promise<{ close(): Promise<void> }> {
  const path = adminSocketPath(config.dataDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new AdminSocketPathTooLongError(path);
  // We hold the data directory lock, so a socket file here is left over from a crash.
  if (existsSync(path)) unlinkSync(path);
  const ctx = commandContext(config, database, onKeysRotated);
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      // Past the limit the rest is read and dropped (only this OS user can send it): closing on a
      // half-read body could lose the answer below on the way to the CLI.
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk as Buffer);
    }
    if (size > MAX_REQUEST_BYTES) {
      // Answered as any outcome, which the CLI prints.
      const tooLarge: CommandOutcome = { exitCode: 1, stdout: '', stderr: 'The command and its input are larger than 4 MB\n' };
      return void res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify(tooLarge));
    }
    let outcome: CommandOutcome;
    try {
      const { argv, stdin } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { argv: string[]; stdin?: string };
      if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) throw new Error('argv must be a list of strings');
      outcome = await runCommand(ctx, argv, typeof stdin === 'string' ? stdin : '');
    } catch (error) {
      logger.error('admin command failed', { error: (error as Error).message });
      outcome = { exitCode: 1, stdout: '', stderr: `The command failed: ${(error as Error).message}\n` };
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(outcome));
  });
  // The socket is born with mode 0600 (umask 0177 while it is created): no window in which
  // another local user could connect. DATA_DIR itself is 0700 as well.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Sends a command to the running server; rejects if no server answers on the socket. */
export function sendToServer(dataDir: string, argv: string[], stdin: string): Promise<CommandOutcome> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: adminSocketPath(dataDir), method: 'POST', path: '/run', headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as CommandOutcome);
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ argv, stdin }));
  });
}
