// The admin REST API (/api/admin/v1): users, clients, APIs, connections, keys and events over the
// same domain services the CLI uses, opened by management-API access tokens; its OpenAPI document
// and a browsable reference page are made from the operation declarations.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type Koa from 'koa';
import compose from 'koa-compose';
import packageJson from '../../package.json' with { type: 'json' };
import type { Feature, FeatureDeps } from '../feature.ts';
import { cursorCodec } from './cursor.ts';
import { idempotencyKeySweeper } from './idempotency.ts';
import { ADMIN_BASE_PATH, ensureManagementApi } from '../apis/managementApi.ts';
import { openApiDocument } from './openapi.ts';
import type { Operation } from './operation.ts';
import { adminRouter } from './router.ts';
import { PROBLEM_TYPES, respondProblem } from '../http/problem.ts';
import { USER_OPERATIONS } from './resources/users.ts';
import { CLIENT_OPERATIONS } from './resources/clients.ts';
import { API_OPERATIONS } from './resources/apis.ts';
import { KEY_OPERATIONS } from './resources/keys.ts';
import { EVENT_OPERATIONS } from './resources/events.ts';
import { CONSENT_OPERATIONS } from './resources/consents.ts';
import { CONNECTION_OPERATIONS, IDENTITY_OPERATIONS } from './resources/connections.ts';

export { ADMIN_BASE_PATH, managementApiIdentifier, MANAGEMENT_SCOPES } from '../apis/managementApi.ts';

export const ADMIN_OPERATIONS: readonly Operation[] = [
  ...USER_OPERATIONS,
  ...CLIENT_OPERATIONS,
  ...API_OPERATIONS,
  ...KEY_OPERATIONS,
  ...EVENT_OPERATIONS,
  ...CONSENT_OPERATIONS,
  ...IDENTITY_OPERATIONS,
  ...CONNECTION_OPERATIONS,
];

export function adminOpenApi(issuer: string) {
  return openApiDocument(ADMIN_OPERATIONS, issuer, packageJson.version);
}

const VIEWS = fileURLToPath(new URL('../../views/admin/', import.meta.url));
const SWAGGER_UI = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The reference page and the few files it loads, read once at start. */
function referenceFiles(): Map<string, { type: string; body: Buffer }> {
  const at = `${ADMIN_BASE_PATH}/reference`;
  return new Map([
    [at, { type: 'text/html; charset=utf-8', body: readFileSync(join(VIEWS, 'reference.html')) }],
    [`${at}/reference.js`, { type: 'text/javascript; charset=utf-8', body: readFileSync(join(VIEWS, 'reference.js')) }],
    [`${at}/swagger-ui.css`, { type: 'text/css; charset=utf-8', body: readFileSync(join(SWAGGER_UI, 'swagger-ui.css')) }],
    [
      `${at}/swagger-ui-bundle.js`,
      { type: 'text/javascript; charset=utf-8', body: readFileSync(join(SWAGGER_UI, 'swagger-ui-bundle.js')) },
    ],
  ]);
}

// Made on first request, not at start: a server that is never asked for its documentation does
// not carry it (or Swagger UI's 2 MB) in memory.
function documentation(issuer: string): Koa.Middleware {
  let openapi: string | undefined;
  let files: ReturnType<typeof referenceFiles> | undefined;
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === `${ADMIN_BASE_PATH}/openapi.json`) {
      openapi ??= JSON.stringify(adminOpenApi(issuer));
      ctx.type = 'application/json';
      ctx.body = openapi;
      return;
    }
    if (!ctx.path.startsWith(`${ADMIN_BASE_PATH}/reference`)) return next();
    files ??= referenceFiles();
    const file = files.get(ctx.path);
    if (!file) return next();
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = file.type;
    ctx.body = file.body;
  };
}

// A path no operation has answers problem+json here, like every other error of the API. A path
// an operation has, asked with another method, goes on to be answered 405 (http/methods.ts).
const notFound: Koa.Middleware = async (ctx, next) => {
  const matched = (ctx as { matched?: unknown[] }).matched ?? [];
  if (matched.length) return next();
  respondProblem(ctx, { type: PROBLEM_TYPES.notFound, title: 'Not found', status: 404, detail: `Nothing is served at ${ctx.path}` });
};

export const adminApiFeature: Feature = {
  name: 'admin API',
  paths: ['/api/admin/*'],
  routes(deps: FeatureDeps) {
    const router = adminRouter(ADMIN_OPERATIONS, { ...deps, cursors: cursorCodec(deps.box) });
    return compose([documentation(deps.config.issuer), router.routes() as Koa.Middleware, notFound]);
  },
  start: ({ database, config }) => ensureManagementApi(database.db, config.issuer),
  sweepers: [idempotencyKeySweeper],
};
