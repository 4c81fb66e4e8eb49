// An admin API operation, declared once: its route, the scope it needs, the zod schemas that
// validate its input and describe its answer, and its handler. The router (router.ts) and the
// OpenAPI document (openapi.ts) are both made from these declarations, so the document cannot
// drift from what the API accepts.
import type { z } from 'zod';
import type { ServiceContext } from '../changes/index.ts';
import type { FeatureDeps } from '../feature.ts';
import type { CursorCodec } from './cursor.ts';
import type { ManagementScope } from '../apis/managementApi.ts';
import type { AdminCaller } from './auth.ts';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface AdminDeps extends FeatureDeps {
  cursors: CursorCodec;
}

export interface OperationCall<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The change context: actor is the calling client, request id and IP for the audit. */
  service: ServiceContext;
  deps: AdminDeps;
  caller: AdminCaller;
  /** If-Match, for operations that change one versioned resource. */
  ifMatch?: string;
  /** What the operation's prepare() made, outside any transaction. */
  prepared?: unknown;
}

export interface OperationResult {
  /** The JSON answer (none: 204). */
  body?: unknown;
  /** For a create: where the new resource lives (relative to the API's base). */
  location?: string;
  /** What the ETag stands for when it is not the body itself (an answer that shows a secret once). */
  version?: unknown;
  /** The cursor of the next page (lists), also sent as a Link header. */
  nextCursor?: string;
}

export interface Operation<P = unknown, Q = unknown, B = unknown> {
  method: HttpMethod;
  /** Relative to /api/admin/v1, OpenAPI style: /users/{userId}. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  scope: ManagementScope;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** What a success returns (none: 204 No Content). */
  response?: z.ZodType;
  /** Success status when not 200/204 (201 for creates). */
  status?: number;
  /** The answer carries an ETag, and If-Match is honoured on changes. */
  versioned?: boolean;
  /** Creates: an Idempotency-Key makes a retry return the first answer instead of creating twice. */
  idempotent?: boolean;
  /** The largest body it takes, in KB (default 64): a connection's IdP metadata may be far larger. */
  maxBodyKb?: number;
  /** Error statuses this operation may answer besides 401/403 (documented as problem+json). */
  errors: number[];
  /**
   * The slow, read-only part of the work (hashing a password, checking client metadata), run
   * before and outside the transaction an Idempotency-Key holds open, so no connection waits on it.
   */
  prepare?(call: OperationCall<P, Q, B>): Promise<unknown>;
  handle(call: OperationCall<P, Q, B>): Promise<OperationResult>;
}

/** Declares an operation with its types inferred from its schemas. */
export function operation<P = undefined, Q = undefined, B = undefined>(op: Operation<P, Q, B>): Operation<P, Q, B> {
  return op;
}
