// Recognises "the database is not answering" among errors from pg, knex and PGlite, so callers
// answer 503 (try again later) rather than 500.
import knex from 'knex';
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '57014', // query_canceled: statement_timeout passed (see openPostgres)
]);

export function isDatabaseUnavailable(error: unknown): boolean {
  for (
    let e = error as { code?: string; message?: string; name?: string; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (e.code && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
    if (e instanceof knex.KnexTimeoutError) return true;
    const message = e.message ?? '';
    if (
      /Connection terminated|connection timeout|Query read timeout|Timeout acquiring a connection|PGlite is closed|Client has encountered a connection error/i.test(
        message,
      )
    )
      return true;
    if (Array.isArray((e as { errors?: unknown[] }).errors) && (e as { errors: unknown[] }).errors.some(isDatabaseUnavailable)) return true;
  }
  return false;
}
