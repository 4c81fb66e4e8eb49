// The one error model of the domain services. A service throws one of these; each surface
// renders it its own way (problem+json for the admin API, a screen for HTML, a message and an
// exit code for the CLI), so no surface needs to know which service failed or how.
import type { ZodError } from 'zod';

/** One problem with one input field: `path` names it the way the caller sent it (`email`, `scopes.1`). */
export interface FieldProblem {
  path: string;
  message: string;
}

export type DomainErrorKind =
  | 'not_found'
  | 'conflict'
  | 'invalid_input'
  | 'forbidden'
  | 'precondition_failed'
  | 'rate_limited'
  | 'unavailable';

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
}

export class NotFoundError extends DomainError {
  readonly kind = 'not_found';
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The change contradicts what is stored (a duplicate, a reference still in use). */
export class ConflictError extends DomainError {
  readonly kind = 'conflict';
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

export class InvalidInputError extends DomainError {
  readonly kind = 'invalid_input';
  readonly fields: FieldProblem[];
  constructor(message: string, fields: FieldProblem[] = []) {
    super(message);
    this.name = 'InvalidInputError';
    this.fields = fields;
  }
}

export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden';
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/** The caller's idea of the current version (If-Match) is out of date. */
export class PreconditionFailedError extends DomainError {
  readonly kind = 'precondition_failed';
  constructor(message: string) {
    super(message);
    this.name = 'PreconditionFailedError';
  }
}

/** Too many attempts of this kind by this caller: refused until `retryAfterSeconds` have passed. */
export class RateLimitedError extends DomainError {
  readonly kind = 'rate_limited';
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'RateLimitedError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class UnavailableError extends DomainError {
  readonly kind = 'unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'UnavailableError';
  }
}

export function fieldProblems(error: ZodError): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String).join('.');
    // A refused unknown field is a problem of that field, not of the object around it.
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => ({ path: path ? `${path}.${key}` : key, message: 'unknown field' }));
    return [{ path, message: issue.message }];
  });
}

/** Parses with a zod schema; what does not fit becomes an InvalidInputError naming every field. */
export function parseInput<T>(
  schema: { safeParse(input: unknown): { success: true; data: T } | { success: false; error: ZodError } },
  input: unknown,
): T {
  const result = schema.safeParse(input);
  if (!result.success) throw new InvalidInputError('Invalid input', fieldProblems(result.error));
  return result.data;
}
