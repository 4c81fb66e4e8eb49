// The files under config/ that operators edit instead of code: the profile schema
// (PROFILE_SCHEMA_FILE) and the policies: documents to accept and purposes to consent to
// (POLICIES_FILE). JSON or YAML. Read and checked at start, where a bad file stops the server
// with every problem named; read again on SIGHUP, where a bad file is reported and the previous
// one stays in force (a typo must not take sign-in down).
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_PROFILE_SCHEMA, resolveProfileSchema, type ProfileSchema } from '../profile/schema.ts';
import { NO_POLICIES, resolvePolicies, type Policies } from '../policies/schema.ts';

export interface DeclarationFiles {
  /** Absolute path of the profile schema, or undefined for the built-in one. */
  profileSchemaFile?: string;
  policiesFile?: string;
}

export interface Declared {
  profile: ProfileSchema;
  policies: Policies;
}

/** What the server reads its declarations from; `current` changes only on a successful reload. */
export interface Declarations {
  readonly files: DeclarationFiles;
  current(): Declared;
  /** Reads the files again: the problems (and nothing changed), or none (and the new ones in force). */
  reload(): string[];
}

function readDeclarationFile(variable: string, file: string): { value: unknown } | { problems: string[] } {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    return { problems: [`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`] };
  }
  try {
    return { value: extname(file).toLowerCase() === '.json' ? JSON.parse(source) : parseYaml(source) };
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    return { problems: [`${variable}: ${file} is not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${message}`] };
  }
}

/** Reads and checks both files; the declarations, or every problem, each prefixed with its variable and file. */
export function readDeclarations(files: DeclarationFiles): { declared: Declared } | { problems: string[] } {
  const problems: string[] = [];
  let profile = DEFAULT_PROFILE_SCHEMA;
  let policies = NO_POLICIES;
  if (files.profileSchemaFile) {
    const read = readDeclarationFile('PROFILE_SCHEMA_FILE', files.profileSchemaFile);
    if ('problems' in read) problems.push(...read.problems);
    else {
      const resolved = resolveProfileSchema(read.value);
      if ('schema' in resolved) profile = resolved.schema;
      else
        problems.push(
          ...resolved.problems.map(
            (p) => `PROFILE_SCHEMA_FILE: ${files.profileSchemaFile}: ${p.attribute ? `attribute ${p.attribute}: ` : ''}${p.message}`,
          ),
        );
    }
  }
  if (files.policiesFile) {
    const read = readDeclarationFile('POLICIES_FILE', files.policiesFile);
    if ('problems' in read) problems.push(...read.problems);
    else {
      const resolved = resolvePolicies(read.value);
      if ('policies' in resolved) policies = resolved.policies;
      else problems.push(...resolved.problems.map((p) => `POLICIES_FILE: ${files.policiesFile}: ${p.message}`));
    }
  }
  return problems.length ? { problems } : { declared: { profile, policies } };
}

/** The declarations of a configuration whose files were already read once (`first`). */
export function declarationsOf(files: DeclarationFiles, first: Declared): Declarations {
  let current = first;
  return {
    files,
    current: () => current,
    reload() {
      const read = readDeclarations(files);
      if ('problems' in read) return read.problems;
      current = read.declared;
      return [];
    },
  };
}

/** Declarations given as they are (tests, tools): reload keeps them. */
export function fixedDeclarations(declared: Partial<Declared> = {}): Declarations {
  const fixed = { profile: declared.profile ?? DEFAULT_PROFILE_SCHEMA, policies: declared.policies ?? NO_POLICIES };
  return { files: {}, current: () => fixed, reload: () => [] };
}
