// application/problem+json (RFC 9457) for our JSON APIs: the one renderer of domain errors on
// that surface. Each kind of problem has a stable `type` URI that clients may switch on; a
// validation problem lists every field that is wrong.
import type { Context } from 'koa';
import { type DomainError, InvalidInputError, type DomainErrorKind, type FieldProblem, RateLimitedError } from '../errors/index.ts';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldProblem[];
  /** Sent as Retry-After (not in the body). */
  retryAfterSeconds?: number;
}

const type = (name: string) => `urn:gatehouse:problem:${name}`;

const BY_KIND: Record<DomainErrorKind, { status: number; type: string; title: string }> = {
  invalid_input: { status: 400, type: type('invalid-input'), title: 'The request is not valid' },
  forbidden: { status: 403, type: type('forbidden'), title: 'Not allowed' },
  not_found: { status: 404, type: type('not-found'), title: 'Not found' },
  conflict: { status: 409, type: type('conflict'), title: 'Conflict with the current state' },
  precondition_failed: { status: 412, type: type('precondition-failed'), title: 'The resource has changed' },
  rate_limited: { status: 429, type: type('rate-limited'), title: 'Too many requests' },
  unavailable: { status: 503, type: type('unavailable'), title: 'Service temporarily unavailable' },
};

export const PROBLEM_TYPES = {
  unauthorized: type('unauthorized'),
  insufficientScope: type('insufficient-scope'),
  malformedBody: type('malformed-body'),
  unsupportedMediaType: type('unsupported-media-type'),
  payloadTooLarge: type('payload-too-large'),
  idempotencyKeyReused: type('idempotency-key-reused'),
  idempotencyAnswerLost: type('idempotency-answer-lost'),
  notFound: type('not-found'),
} as const;

export function problemFor(error: DomainError): Problem {
  const { status, type: uri, title } = BY_KIND[error.kind];
  return {
    type: uri,
    title,
    status,
    detail: error.message,
    ...(error instanceof InvalidInputError && error.fields.length ? { errors: error.fields } : {}),
    ...(error instanceof RateLimitedError ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
  };
}

export function respondProblem(ctx: Context, { retryAfterSeconds, ...problem }: Problem): void {
  ctx.status = problem.status;
  if (retryAfterSeconds !== undefined) ctx.set('Retry-After', String(retryAfterSeconds));
  else if (problem.status === 503) ctx.set('Retry-After', '5');
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'application/problem+json';
  ctx.body = { ...problem, instance: ctx.path, request_id: ctx.state.requestId };
}
