// The OpenAPI 3.1 document of the admin API, made from the operation declarations: the same zod
// schemas that validate requests describe them here (request side as zod's input types, answers
// as its output types). Schemas given an id with .meta({ id }) become components.
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { ADMIN_BASE_PATH, MANAGEMENT_SCOPES } from '../apis/managementApi.ts';
import type { Operation } from './operation.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema and OpenAPI documents are untyped trees
type Json = Record<string, any>;

export const problemSchema = z
  .object({
    type: z.string().meta({ description: 'A stable URI for the kind of problem (urn:gatehouse:problem:…)' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'One entry per invalid field' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

const REF = '#/components/schemas/';

// Documentation only: zod writes long patterns beside formats and ±MAX_SAFE_INTEGER bounds for
// .int(), which make reference pages print noise. Validation still uses the zod schemas.
const tidy = ({ jsonSchema: j }: { jsonSchema: Json }) => {
  if (j.format && j.pattern) delete j.pattern;
  if (j.minimum === Number.MIN_SAFE_INTEGER) delete j.minimum;
  if (j.maximum === Number.MAX_SAFE_INTEGER) delete j.maximum;
};
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

// Every operation may answer these besides its own errors.
const COMMON_ERRORS = [401, 403];

export function openApiDocument(operations: readonly Operation[], issuer: string, version: string): Json {
  const schemas: Record<string, Json> = {};
  const responses: Record<string, Json> = {};

  // A schema with an id that differs between input and output is kept twice: <id> and <id>Input.
  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const {
      $schema: _,
      $defs = {},
      ...root
    } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, override: tidy, unrepresentable: 'any' }) as Json;
    const renamed = new Set<string>();
    const name = (k: string) => (renamed.has(k) ? `${k}Input` : k);
    const fix = (v: Json): Json => JSON.parse(JSON.stringify(v).replace(/"#\/\$defs\/([^"]+)"/g, (_m, k) => JSON.stringify(REF + name(k))));
    for (let grew = io === 'input'; grew; ) {
      grew = false;
      for (const k in $defs)
        if (!renamed.has(k) && schemas[k] && !same(schemas[k], fix($defs[k]))) {
          renamed.add(k);
          grew = true;
        }
    }
    for (const [k, def] of Object.entries($defs as Json)) {
      const fixed = fix(def);
      if (schemas[name(k)] && !same(schemas[name(k)], fixed)) throw new Error(`two different schemas use the id "${name(k)}"`);
      schemas[name(k)] = fixed;
    }
    return fix(root);
  };
  const deref = (s: Json): Json => (s.$ref ? schemas[s.$ref.slice(REF.length)] : s);
  const parameters = (schema: z.ZodType | undefined, where: 'path' | 'query'): Json[] => {
    if (!schema) return [];
    const js = deref(toSchema(schema, 'input'));
    const required = new Set<string>(js.required ?? []);
    return Object.entries<Json>(js.properties ?? {}).map(([name, { description, ...property }]) => ({
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description ? { description } : {}),
      schema: property,
    }));
  };
  const problemResponse = (status: number) => {
    const key = `Problem${status}`;
    responses[key] ??= {
      description: STATUS_CODES[status] ?? `Error ${status}`,
      // Refusals that pass with time say when to try again (RFC 9110 §10.2.3).
      ...(status === 429 || status === 503
        ? { headers: { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } } } }
        : {}),
      content: { 'application/problem+json': { schema: { $ref: `${REF}Problem` } } },
    };
    return { $ref: `#/components/responses/${key}` };
  };

  // Answers first, so an id shared by both sides keeps its plain name for the answer's shape.
  for (const s of [problemSchema, ...operations.flatMap((o) => (o.response ? [o.response] : []))]) toSchema(s, 'output');
  const paths: Json = {};
  for (const op of operations) {
    const params = parameters(op.params, 'path');
    params.push(...parameters(op.query, 'query'));
    const headers: Json[] = [];
    if (op.versioned && op.method !== 'get')
      headers.push({
        name: 'If-Match',
        in: 'header',
        required: false,
        description: 'The ETag of your last read: the change is refused with 412 if the resource changed since',
        schema: { type: 'string' },
      });
    if (op.idempotent)
      headers.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description: 'A retry with the same key and body returns the first answer; another body with the same key answers 422',
        schema: { type: 'string', maxLength: 255 },
      });
    const status = String(op.status ?? (op.response ? 200 : 204));
    const success: Json = { description: STATUS_CODES[status] ?? 'Success' };
    if (op.response) success.content = { 'application/json': { schema: toSchema(op.response, 'output') } };
    const answerHeaders: Json = {};
    if (op.versioned && op.response) answerHeaders.ETag = { description: 'The version of what was returned', schema: { type: 'string' } };
    if (op.status === 201) answerHeaders.Location = { description: 'Where the new resource lives', schema: { type: 'string' } };
    if (op.query && 'shape' in op.query && 'cursor' in (op.query.shape as object))
      answerHeaders.Link = { description: 'RFC 8288 link to the next page (rel="next")', schema: { type: 'string' } };
    if (Object.keys(answerHeaders).length) success.headers = answerHeaders;
    const opResponses: Json = { [status]: success };
    for (const e of [...op.errors, ...COMMON_ERRORS].sort()) opResponses[String(e)] = problemResponse(e);
    paths[op.path] ??= {};
    const pathItem = paths[op.path];
    if (pathItem[op.method]) throw new Error(`${op.method} ${op.path} is declared twice`);
    pathItem[op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      tags: [op.tag],
      ...(params.length || headers.length ? { parameters: [...params, ...headers] } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(op.body, 'input') } } } } : {}),
      responses: opResponses,
      security: [{ managementApi: [op.scope] }],
    };
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'Gatehouse admin API',
      version,
      description:
        'Manage users, clients, APIs, keys and read events. Authenticate with an access token for the management API ' +
        `(resource ${issuer}${ADMIN_BASE_PATH}) from the client credentials grant; each operation names the scope it needs.`,
    },
    servers: [{ url: `${issuer}${ADMIN_BASE_PATH}` }],
    tags: [...new Set(operations.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      responses,
      securitySchemes: {
        managementApi: {
          type: 'oauth2',
          description: `Client credentials with resource=${issuer}${ADMIN_BASE_PATH}`,
          flows: { clientCredentials: { tokenUrl: `${issuer}/token`, scopes: MANAGEMENT_SCOPES } },
        },
      },
    },
  };
}
