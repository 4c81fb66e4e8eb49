// Gives every request an id (a well-formed incoming X-Request-Id is kept, so a proxy's id
// carries through), echoes it in the response, and logs one line per request.
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { logger, requestContext } from './logger.ts';

const VALID_ID = /^[\w.:-]{1,128}$/;

export async function requestId(ctx: Context, next: Next) {
  const incoming = ctx.get('x-request-id');
  const id = VALID_ID.test(incoming) ? incoming : randomUUID();
  ctx.state.requestId = id;
  ctx.set('X-Request-Id', id);
  const started = process.hrtime.bigint();
  await requestContext.run({ requestId: id }, async () => {
    try {
      await next();
    } finally {
      // Formatting a line nobody will see costs as much as serving a JWKS request: skip it.
      if (logger.isLevelEnabled('http')) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        // The path only: query strings carry codes, tokens and state.
        logger.http('request', { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 });
      }
    }
  });
}
