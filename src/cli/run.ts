// Runs one parsed CLI invocation against a command context and renders the outcome. Pure with
// respect to the process (no exit, no console), so the running server can run it for a CLI that
// connects over the admin socket and the answer looks exactly the same.
import type { CommandContext } from './context.ts';
import { CommandError } from './context.ts';
import { parseCommand } from './commands/index.ts';
import { formatHuman } from './output.ts';
import { DomainError, InvalidInputError } from '../errors/index.ts';

export interface CommandOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCommand(ctx: CommandContext, argv: string[], stdin = ''): Promise<CommandOutcome> {
  let json = argv.includes('--json');
  try {
    const parsed = parseCommand(argv);
    json = parsed.json;
    const data = await parsed.command.run(ctx, parsed.values, parsed.positionals, stdin);
    return { exitCode: 0, stdout: `${json ? JSON.stringify(data) : formatHuman(data)}\n`, stderr: '' };
  } catch (caught) {
    const error = asCommandError(caught);
    const body = json
      ? `${JSON.stringify({ error: error.message, problems: error.problems })}\n`
      : `${[error.message, ...error.problems.map((p) => `  - ${p}`)].join('\n')}\n`;
    return { exitCode: 1, stdout: json ? body : '', stderr: json ? '' : body };
  }
}

/** The CLI's rendering of the domain's errors: the message, then one line per field problem. */
function asCommandError(error: unknown): CommandError {
  if (error instanceof CommandError) return error;
  if (error instanceof InvalidInputError) {
    return new CommandError(
      error.message,
      error.fields.map((f) => (f.path ? `${f.path}: ${f.message}` : f.message)),
    );
  }
  if (error instanceof DomainError) return new CommandError(error.message);
  throw error;
}
