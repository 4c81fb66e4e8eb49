// A file of connections (JSON or YAML) that `gatehouse connections import` creates or updates in
// one go. Entries are shaped like a new connection, except that a file is committed and shared, so
// it never holds a secret: an entry names the environment variable that does (client_secret_env).
// Every entry is checked before anything is written; when one is wrong, nothing changes and every
// problem is named with its entry ("connections[1] (acme): settings.issuer: …").
import { extname } from 'node:path';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import type { ServiceContext } from '../changes/index.ts';
import { ConflictError, type FieldProblem, fieldProblems, InvalidInputError } from '../errors/index.ts';
import type { SecretBox } from '../secrets/secretBox.ts';
import { createConnection, listConnections, newConnectionSchema, updateConnection } from './connections.ts';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

type NewConnectionData = z.output<typeof newConnectionSchema>;

interface CheckedEntry {
  label: string;
  connection: NewConnectionData;
}

export interface ImportOutcome {
  created: string[];
  updated: string[];
}

/** Environment variables by name, as the operator's shell had them. */
export type SecretVariables = Record<string, string | undefined>;

/** The document in a file's text: JSON for .json, YAML (which also reads JSON) for anything else. */
export function parseConnectionsFile(file: string, source: string): unknown {
  const json = extname(file).toLowerCase() === '.json';
  try {
    return json ? JSON.parse(source) : parseYaml(source);
  } catch (error) {
    throw new InvalidInputError(`${file} is not valid ${json ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`);
  }
}

const entriesOf = (document: unknown): unknown[] | undefined => {
  const entries = (document as { connections?: unknown } | null)?.connections;
  return Array.isArray(entries) ? entries : undefined;
};

/** The environment variables a document names, valid or not: what the CLI must read for it. */
export function secretVariablesOf(document: unknown): string[] {
  const names = (entriesOf(document) ?? []).map((entry) => (entry as { client_secret_env?: unknown } | null)?.client_secret_env);
  return [...new Set(names.filter((name): name is string => typeof name === 'string' && ENV_NAME.test(name)))];
}

const idOf = (entry: unknown) => (entry as { id?: unknown } | null)?.id;

const labelOf = (index: number, entry: unknown) => {
  const id = idOf(entry);
  return `connections[${index}]${typeof id === 'string' && id ? ` (${id})` : ''}`;
};

const at = (label: string, problem: FieldProblem): FieldProblem => ({
  path: problem.path ? `${label}: ${problem.path}` : label,
  message: problem.message,
});

const variableName = z
  .string()
  .regex(ENV_NAME, 'client_secret_env must name an environment variable, such as ACME_CLIENT_SECRET')
  .optional();

/** One entry as a new connection with its secret, or the problems with it (paths without the label). */
function checkEntry(entry: unknown, variables: SecretVariables): { connection: NewConnectionData } | { problems: FieldProblem[] } {
  if (!entry || typeof entry !== 'object' || Array.isArray(entry))
    return { problems: [{ path: '', message: 'each entry must be a mapping with id, type, display_name and settings' }] };
  if ('client_secret' in entry)
    return {
      problems: [
        {
          path: 'client_secret',
          message: 'a file never holds the secret: put it in an environment variable and name it in client_secret_env',
        },
      ],
    };
  // The entry is a new connection once the variable's name is taken out, whatever its type.
  const { client_secret_env, ...fields } = entry as Record<string, unknown>;
  const variable = variableName.safeParse(client_secret_env);
  const parsed = newConnectionSchema.safeParse(fields);
  const problems = [
    ...(parsed.success ? [] : fieldProblems(parsed.error)),
    ...(variable.success ? [] : fieldProblems(variable.error).map((p) => ({ ...p, path: 'client_secret_env' }))),
  ];
  if (!parsed.success || !variable.success) return { problems };
  if (variable.data === undefined) return { connection: parsed.data };
  const secret = variables[variable.data];
  if (secret === undefined)
    return { problems: [{ path: 'client_secret_env', message: `environment variable ${variable.data} is not set` }] };
  // The variable holds a SAML connection's private key, or any other connection's client secret.
  const secretField = fields.type === 'saml' ? 'sp_private_key' : 'client_secret';
  const withSecret = newConnectionSchema.safeParse({ ...fields, [secretField]: secret });
  if (!withSecret.success)
    return {
      problems: fieldProblems(withSecret.error).map((problem) => ({
        path: 'client_secret_env',
        message: `environment variable ${variable.data}: ${problem.message}`,
      })),
    };
  return { connection: withSecret.data };
}

/** Every entry of the document, checked; throws with every problem of every entry. */
function checkDocument(document: unknown, variables: SecretVariables): CheckedEntry[] {
  const entries = entriesOf(document);
  if (!entries)
    throw new InvalidInputError('Nothing was imported', [{ path: 'connections', message: 'the file must hold a list named connections' }]);
  const problems: FieldProblem[] = Object.keys(document as object)
    .filter((key) => key !== 'connections')
    .map((key) => ({ path: key, message: 'unknown field' }));
  const checked: CheckedEntry[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const label = labelOf(index, entry);
    const id = idOf(entry);
    if (typeof id === 'string' && seen.has(id))
      problems.push(at(label, { path: 'id', message: `${id} is declared more than once in the file` }));
    if (typeof id === 'string') seen.add(id);
    const result = checkEntry(entry, variables);
    if ('problems' in result) problems.push(...result.problems.map((p) => at(label, p)));
    else checked.push({ label, connection: result.connection });
  }
  if (problems.length) throw new InvalidInputError('Nothing was imported', problems);
  return checked;
}

/** A service's refusal of one entry, named with the entry (a parallel create of the same id, say). */
function labelled(label: string, error: unknown): unknown {
  if (error instanceof InvalidInputError)
    return new InvalidInputError(
      'Nothing was imported',
      error.fields.length ? error.fields.map((p) => at(label, p)) : [at(label, { path: '', message: error.message })],
    );
  if (error instanceof ConflictError) return new ConflictError(`Nothing was imported: ${label}: ${error.message}`);
  return error;
}

/**
 * Creates the connections of the document that do not exist and updates those that do (by id), in
 * one transaction: all of them, or none. An entry without client_secret_env leaves the stored
 * secret as it is (a file re-imported without its variables must not drop credentials).
 */
export async function importConnections(
  ctx: ServiceContext,
  box: SecretBox,
  document: unknown,
  variables: SecretVariables,
): Promise<ImportOutcome> {
  const entries = checkDocument(document, variables);
  return ctx.db.transaction(async (trx) => {
    const within = { ...ctx, db: trx };
    const existing = new Map((await listConnections(trx)).map((c) => [c.id, c]));
    const typeChanges = entries.filter(
      ({ connection }) => existing.has(connection.id) && existing.get(connection.id)?.type !== connection.type,
    );
    if (typeChanges.length)
      throw new InvalidInputError(
        'Nothing was imported',
        typeChanges.map(({ label, connection }) =>
          at(label, {
            path: 'type',
            message: `${connection.id} is of type ${existing.get(connection.id)?.type}: delete it to change its type`,
          }),
        ),
      );
    const outcome: ImportOutcome = { created: [], updated: [] };
    for (const { label, connection } of entries) {
      try {
        if (existing.has(connection.id)) {
          const { id, type: _type, ...fields } = connection;
          // The entry is the whole connection: its settings replace the stored ones (a setting
          // left out takes its default again) rather than being merged into them.
          await updateConnection(within, box, id, fields, { replaceSettings: true });
          outcome.updated.push(id);
        } else {
          await createConnection(within, box, connection);
          outcome.created.push(connection.id);
        }
      } catch (error) {
        throw labelled(label, error);
      }
    }
    return outcome;
  });
}
