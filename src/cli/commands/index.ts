// Every CLI command, one file per noun; this list is the CLI's table of contents.
import { parseArgs } from 'node:util';
import type { Command, Values } from '../command.ts';
import { CommandError } from '../context.ts';
import { migrate } from '../../db/migrate.ts';
import { KEYS_COMMANDS } from './keys.ts';
import { SECRETS_COMMANDS } from './secrets.ts';
import { CLIENTS_COMMANDS } from './clients.ts';
import { USERS_COMMANDS } from './users.ts';
import { APIS_COMMANDS } from './apis.ts';
import { CONNECTIONS_COMMANDS } from './connections.ts';

const MIGRATE: Command = {
  name: 'migrate',
  summary: 'Apply database migrations (the server also does this at start)',
  usage: 'migrate',
  async run(ctx) {
    return { applied: await migrate(ctx.database.db, ctx.database.url) };
  },
};

export const COMMANDS: Command[] = [
  MIGRATE,
  ...KEYS_COMMANDS,
  ...SECRETS_COMMANDS,
  ...CLIENTS_COMMANDS,
  ...USERS_COMMANDS,
  ...APIS_COMMANDS,
  ...CONNECTIONS_COMMANDS,
];

export interface ParsedCommand {
  command: Command;
  values: Values;
  positionals: string[];
  json: boolean;
}

/** Finds the command named by the first words of argv and parses its flags. */
export function parseCommand(argv: string[]): ParsedCommand {
  const command = [...COMMANDS]
    .sort((a, b) => b.name.length - a.name.length)
    .find((c) => {
      const words = c.name.split(' ');
      return words.every((word, i) => argv[i] === word);
    });
  if (!command)
    throw new CommandError(
      `Unknown command: ${
        argv
          .filter((a) => !a.startsWith('-'))
          .slice(0, 2)
          .join(' ') || '(none)'
      }. Run "gatehouse help".`,
    );
  const rest = argv.slice(command.name.split(' ').length);
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: { ...command.options, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CommandError(`${(error as Error).message.split('\n')[0]}\nUsage: gatehouse ${command.usage}`);
  }
  const expected = command.positionals ?? [];
  if (parsed.positionals.length !== expected.length) {
    throw new CommandError(`Expected ${expected.length ? expected.join(' ') : 'no arguments'}.\nUsage: gatehouse ${command.usage}`);
  }
  const { json, ...values } = parsed.values as Values;
  return { command, values, positionals: parsed.positionals, json: Boolean(json) };
}

export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: gatehouse <command> [options] [--json]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command accepts --json for machine-readable output.',
  ].join('\n');
}
