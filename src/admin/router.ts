// Turns the operation declarations into routes: every request is authenticated, checked for its
// scope, and has its path, query and body validated by the operation's zod schemas before the
// handler runs; what the handler returns is answered with ETag, Location and Link as declared;
// any domain error becomes problem+json.
import Router from '@koa/router';
import bodyParser from 'koa-bodyparser';
import type { Context } from 'koa';
import { DomainError, InvalidInputError, parseInput } from '../errors/index.ts';
import { PROBLEM_TYPES, problemFor, respondProblem } from '../http/problem.ts';
import { containsNul } from '../db/text.ts';
import { versionTag } from '../changes/versionTag.ts';
import { authenticate, requireScope } from './auth.ts';
import { withIdempotency } from './idempotency.ts';
import { ADMIN_BASE_PATH } from '../apis/managementApi.ts';
import type { AdminDeps, Operation, OperationResult } from './operation.ts';

const DEFAULT_BODY_KB = 64;
const jsonParsers = new Map<number, ReturnType<typeof bodyParser>>();
/** One JSON parser per body limit the operations declare. */
function jsonParser(limitKb: number): ReturnType<typeof bodyParser> {
  let parser = jsonParsers.get(limitKb);
  if (!parser) {
    parser = bodyParser({ enableTypes: ['json'], jsonLimit: `${limitKb}kb`, strict: true });
    jsonParsers.set(limitKb, parser);
  }
  return parser;
}

/** /users/{userId} -> /users/:userId */
const routePath = (path: string) => ADMIN_BASE_PATH + path.replace(/\{(\w+)\}/g, ':$1');

async function readBody(ctx: Context, limitKb: number): Promise<unknown> {
  if (!ctx.is('application/json')) {
    respondProblem(ctx, {
      type: PROBLEM_TYPES.unsupportedMediaType,
      title: 'Unsupported content type',
      status: 415,
      detail: 'Send the body as application/json',
    });
    return undefined;
  }
  try {
    await jsonParser(limitKb)(ctx, async () => {});
  } catch (error) {
    const e = error as { status?: number; type?: string };
    if (e.status === 413 || e.type === 'entity.too.large')
      respondProblem(ctx, {
        type: PROBLEM_TYPES.payloadTooLarge,
        title: 'Request too large',
        status: 413,
        detail: `The body is larger than ${limitKb >= 1024 ? `${limitKb / 1024} MB` : `${limitKb} KB`}`,
      });
    else
      respondProblem(ctx, {
        type: PROBLEM_TYPES.malformedBody,
        title: 'Malformed JSON',
        status: 400,
        detail: 'The body is not valid JSON',
      });
    return undefined;
  }
  if (containsNul(ctx.request.body)) throw new InvalidInputError('The body contains a NUL character');
  return ctx.request.body;
}

function answer(ctx: Context, op: Operation, result: OperationResult): void {
  ctx.set('Cache-Control', 'no-store');
  if (result.location) ctx.set('Location', ADMIN_BASE_PATH + result.location);
  if (result.nextCursor) {
    const next = new URL(ctx.href);
    next.searchParams.set('cursor', result.nextCursor);
    ctx.set('Link', `<${next.pathname}${next.search}>; rel="next"`);
  }
  if (result.body === undefined) {
    ctx.status = 204;
    return;
  }
  if (op.versioned) ctx.set('ETag', versionTag(result.version ?? result.body));
  ctx.status = op.status ?? 200;
  ctx.body = result.body;
}

function handler(op: Operation, deps: AdminDeps) {
  return async (ctx: Context) => {
    const caller = await authenticate(ctx, deps.provider(), deps.database.db, deps.config.issuer);
    if (!caller || !requireScope(ctx, caller, op.scope)) return;
    try {
      if (containsNul(ctx.params) || containsNul(ctx.query)) throw new InvalidInputError('The address contains a NUL character');
      const params = op.params ? parseInput(op.params, ctx.params) : undefined;
      const query = op.query ? parseInput(op.query, ctx.query) : undefined;
      let body: unknown;
      if (op.body) {
        body = await readBody(ctx, op.maxBodyKb ?? DEFAULT_BODY_KB);
        if (body === undefined) return;
        body = parseInput(op.body, body);
      }
      const service = {
        db: deps.database.db,
        actor: { type: 'client' as const, id: caller.clientId },
        source: deps.config.issuer,
        requestId: ctx.state.requestId as string,
        ip: ctx.ip,
        callerScopes: caller.scopes,
      };
      const ifMatch = ctx.get('if-match') || undefined;
      // Ignoring it would let the caller believe its change was made only if nothing had changed.
      if (ifMatch && !op.versioned) throw new InvalidInputError('This operation does not take If-Match: what it changes has no version');
      const call = { params, query, body, service, deps, caller, ifMatch };
      const key = ctx.get('idempotency-key');
      const result =
        op.idempotent && key
          ? await withIdempotency(ctx, call, { key, clientId: caller.clientId, request: { method: ctx.method, path: ctx.path, body } }, op)
          : await op.handle({ ...call, prepared: await op.prepare?.(call) });
      if (result) answer(ctx, op, result);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      respondProblem(ctx, problemFor(error));
    }
  };
}

export function adminRouter(operations: readonly Operation[], deps: AdminDeps): Router {
  const router = new Router();
  for (const op of operations) router[op.method](routePath(op.path), handler(op, deps));
  return router;
}
