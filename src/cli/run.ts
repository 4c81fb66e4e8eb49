// Runs one parsed CLI invocation against a command context and renders the outcome. Pure with
// respect to the process (no exit, no console), so the running server can run it for a CLI that
// connects over the admin socket and the answer looks exactly the same.
import type { CommandContext } from './context.ts';
import { CommandError } from './context.ts';
import { parseCommand } from './commands.ts';
import { formatHuman } from './output.ts';

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
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    const body = json
      ? `${JSON.stringify({ error: error.message, problems: error.problems })}\n`
      : `${[error.message, ...error.problems.map((p) => `  - ${p}`)].join('\n')}\n`;
    return { exitCode: 1, stdout: json ? body : '', stderr: json ? '' : body };
  }
}
