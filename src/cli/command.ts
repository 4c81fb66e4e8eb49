// What a CLI command is: its name (one or two words), its flags, and a run that returns data
// (output.ts prints it for people or, with --json, as one JSON document). Commands call the
// domain services; they hold no SQL and no policy.
import type { ParseArgsConfig } from 'node:util';
import type { CommandContext } from './context.ts';
import { CommandError } from './context.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options?: Options;
  positionals?: string[];
  /** Set when the command reads a secret from standard input (the CLI sends it along). */
  readsStdin?: (values: Values) => boolean;
  /** What a terminal shows when it asks for that secret (default: "Password: "). */
  stdinPrompt?: string;
  /**
   * Reads, in the operator's own process, what the command needs from there: files, URLs, the
   * environment variables it names, standard input (through readStdin, which asks with
   * stdinPrompt at a terminal; readsStdin is then not consulted). A command handed to the running
   * server (admin socket) runs with the server's working directory and environment, not the
   * operator's. What this returns is given to run() as its stdin.
   */
  gatherInput?: (values: Values, positionals: string[], env: NodeJS.ProcessEnv, readStdin: () => Promise<string>) => Promise<string>;
  run(ctx: CommandContext, values: Values, positionals: string[], stdin: string): Promise<unknown>;
}

/** A repeatable flag's values (none: an empty list). */
export const list = (value: unknown) => (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);

export const str = (value: unknown) => (typeof value === 'string' ? value : undefined);

export function required(values: Values, name: string): string {
  const value = str(values[name]);
  if (!value) throw new CommandError(`--${name} is required`);
  return value;
}

/** The input a command gets from the operator's process: what it gathers, or a secret from stdin. */
export async function operatorInput(
  parsed: { command: Command; values: Values; positionals: string[] },
  readStdin: (prompt: string) => Promise<string>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const { command, values, positionals } = parsed;
  const stdin = () => readStdin(command.stdinPrompt ?? 'Password: ');
  if (command.gatherInput) return command.gatherInput(values, positionals, env, stdin);
  return command.readsStdin?.(values) ? stdin() : '';
}
