// One place that turns failures into answers, one renderer per surface: HTML screens get the
// friendly error page, JSON APIs get application/problem+json (RFC 9457, see problem.ts for the
// admin API's typed problems). Library errors are recognised by class, never by name or text. oidc-provider renders
// its own protocol errors; we only turn its "server_error" into 503 when the database is down.
import type { Context, Next } from 'koa';
import { logger } from './logger.ts';
import { renderPage } from './views.ts';
import { isDatabaseUnavailable } from './databaseErrors.ts';
import { CsrfError } from './csrf.ts';
import { errors } from 'oidc-provider';
import { DomainError } from '../errors/index.ts';
import { problemFor } from './problem.ts';

/** An error whose message is written for the person who will read it. */
export class UserFacingError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(status: number, title: string, message: string) {
    super(message);
    this.name = 'UserFacingError';
    this.status = status;
    this.title = title;
  }
}

interface Answer {
  status: number;
  title: string;
  detail: string;
}

const UNAVAILABLE: Answer = {
  status: 503,
  title: 'Service temporarily unavailable',
  detail: 'We cannot reach our database right now. Please try again in a moment.',
};

function answerFor(error: unknown): Answer {
  if (error instanceof UserFacingError) return { status: error.status, title: error.title, detail: error.message };
  if (error instanceof CsrfError) {
    return {
      status: 403,
      title: 'This form has expired',
      detail: 'For your security the form could not be verified. Go back, reload the page and try again.',
    };
  }
  if (isDatabaseUnavailable(error)) return UNAVAILABLE;
  if (error instanceof DomainError) {
    const { status, title } = problemFor(error);
    return { status, title, detail: error.message };
  }
  const e = error as { status?: number; statusCode?: number; expose?: boolean; type?: string; error_description?: string };
  if (
    error instanceof errors.SessionNotFound ||
    (error instanceof errors.InvalidRequest && /interaction/.test(error.error_description ?? ''))
  ) {
    return {
      status: 400,
      title: 'This sign-in has expired',
      detail: 'Your sign-in session was not found or has expired. Return to the application and start again.',
    };
  }
  // oidc-provider, showing a device-flow page (/device/:uid) to a browser that has no session,
  // makes one up, fails to save it (it was never stored) and throws this in place of its own
  // "session not found" error.
  if (error instanceof TypeError && /persist can only be called on previously persisted/.test(error.message)) {
    return {
      status: 400,
      title: 'This sign-in has expired',
      detail: 'Your sign-in session was not found or has expired. Start again on your device.',
    };
  }
  const status = e.status ?? e.statusCode;
  if (status === 413 || e.type === 'entity.too.large')
    return { status: 413, title: 'Request too large', detail: 'What you sent is larger than we accept.' };
  if (status === 415)
    return { status: 415, title: 'Unsupported content type', detail: 'Send the form as application/x-www-form-urlencoded.' };
  if (status && status >= 400 && status < 500) {
    return {
      status,
      title: 'Bad request',
      detail: e.type === 'entity.parse.failed' ? 'The request body could not be parsed.' : 'The request could not be understood.',
    };
  }
  return { status: 500, title: 'Something went wrong', detail: 'An unexpected error occurred. Please try again.' };
}

export function wantsProblemJson(ctx: Context): boolean {
  return ctx.path.startsWith('/api/') || ctx.path === '/readyz' || ctx.accepts('html', 'json') === 'json';
}

export async function respondWithError(ctx: Context, answer: Answer): Promise<void> {
  ctx.status = answer.status;
  if (answer.status === 503) ctx.set('Retry-After', '5');
  if (wantsProblemJson(ctx)) {
    ctx.type = 'application/problem+json';
    ctx.body = { type: 'about:blank', title: answer.title, status: answer.status, detail: answer.detail, request_id: ctx.state.requestId };
    return;
  }
  ctx.type = 'html';
  ctx.body = await renderPage('error', {
    title: answer.title,
    description: answer.detail,
    requestId: ctx.state.requestId,
    status: answer.status,
  });
}

export async function errorHandler(ctx: Context, next: Next) {
  try {
    await next();
    const providerError = ctx.state.providerError as unknown;
    if (ctx.status === 500 && providerError && isDatabaseUnavailable(providerError)) await respondProtocolUnavailable(ctx);
  } catch (error) {
    const answer = answerFor(error);
    if (answer.status >= 500) {
      logger.error('request failed', { error: (error as Error).message, stack: (error as Error).stack, path: ctx.path });
    }
    await respondWithError(ctx, answer);
  }
}

// Protocol endpoints answer in their own dialect: RFC 6749's temporarily_unavailable for JSON,
// the error page for browser-facing ones.
async function respondProtocolUnavailable(ctx: Context) {
  if (ctx.response.is('html')) return respondWithError(ctx, UNAVAILABLE);
  ctx.status = 503;
  ctx.set('Retry-After', '5');
  ctx.body = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable, try again later' };
}
