// Request bodies of our own pages: small urlencoded forms, and small JSON documents from the
// passkey scripts. Anything else is refused (415) rather than half-understood; NUL characters,
// which PostgreSQL text cannot hold, are bad input (400), not a failed query.
import type { Context, Next } from 'koa';
import bodyParser from 'koa-bodyparser';
import { UserFacingError } from './errors.ts';
import { containsNul } from '../db/text.ts';

const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '16kb', strict: true });
// A WebAuthn attestation is a few kilobytes; 64 kB leaves room without inviting floods.
const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', strict: true });

const unsupported = () => Object.assign(new Error('unsupported content type'), { status: 415 });

function refuseNul(ctx: Context, what: string) {
  if (containsNul(ctx.request.body)) throw new UserFacingError(400, 'Bad request', `${what} contains characters we do not accept.`);
}

/** Parses an urlencoded form; anything else is refused with 415. */
export async function formBody(ctx: Context, next: Next) {
  if (!ctx.is('application/x-www-form-urlencoded')) throw unsupported();
  await parseForm(ctx, async () => {
    refuseNul(ctx, 'The form');
    await next();
  });
}

/** Parses a JSON document; anything else is refused with 415. */
export async function jsonBody(ctx: Context, next: Next) {
  if (!ctx.is('application/json')) throw unsupported();
  await parseJson(ctx, async () => {
    refuseNul(ctx, 'What you sent');
    await next();
  });
}

/** A field of a parsed form, as text ('' when absent or not text). */
export function field(ctx: Context, name: string): string {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}
