// `gatehouse` entry point. With DATABASE_URL, or when no server holds the embedded database, the
// command opens the database itself; when `npm start` is running on the embedded database, the
// command is handed to it over the admin socket (see adminSocket.ts).
import { loadConfig, ConfigError } from '../config.ts';
import { openDatabase } from '../db/index.ts';
import { isDataDirLocked } from '../db/dataDirLock.ts';
import { logToStderr, setLogLevel } from '../http/logger.ts';
import { commandContext, CommandError } from './context.ts';
import { helpText, parseCommand } from './commands/index.ts';
import { runCommand, type CommandOutcome } from './run.ts';
import { operatorInput } from './command.ts';
import { sendToServer } from './adminSocket.ts';
import { promptSecret } from './promptSecret.ts';
import { ensureManagementApi } from '../apis/managementApi.ts';

async function readStdin(prompt: string): Promise<string> {
  if (process.stdin.isTTY) return promptSecret(prompt);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function execute(argv: string[]): Promise<CommandOutcome> {
  const config = loadConfig();
  // The CLI's output is its answer: only warnings and errors are logged, to standard error.
  logToStderr();
  setLogLevel('warn');
  const parsed = parseCommand(argv);
  const stdin = await operatorInput(parsed, readStdin);
  if (!config.databaseUrl && isDataDirLocked(config.dataDir)) {
    return sendToServer(config.dataDir, argv, stdin);
  }
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 2 });
  try {
    // The server registers the management API when it starts; a database the server has not
    // started on yet gets it here, so `apis grant --api …/api/admin/v1` works from the first day.
    await ensureManagementApi(database.db, config.issuer);
    return await runCommand(commandContext(config, database), argv, stdin);
  } finally {
    await database.close();
  }
}

async function main() {
  const argv = process.argv.slice(2);
  if (!argv.length || argv[0] === 'help' || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  try {
    const outcome = await execute(argv);
    process.stdout.write(outcome.stdout);
    process.stderr.write(outcome.stderr);
    process.exitCode = outcome.exitCode;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof CommandError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`gatehouse: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}

await main();
