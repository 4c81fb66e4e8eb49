// What PostgreSQL (server or PGlite) says when a write breaks a constraint: the one place that
// knows the SQLSTATE codes, so services turn them into domain errors without string matching.
interface PgError {
  code?: string;
  constraint?: string;
}

const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

const matches = (error: unknown, code: string, constraint?: string) => {
  const e = error as PgError | null | undefined;
  return e?.code === code && (constraint === undefined || e.constraint === constraint);
};

/** True when the write was refused as a duplicate (of `constraint`, when named). */
export const isUniqueViolation = (error: unknown, constraint?: string) => matches(error, UNIQUE_VIOLATION, constraint);

/** True when the write names a row that does not exist, or removes one still referred to. */
export const isForeignKeyViolation = (error: unknown, constraint?: string) => matches(error, FOREIGN_KEY_VIOLATION, constraint);
