// Idempotency-Key on creates: a client that retries a create (its first answer was lost) gets the
// first answer again instead of a second resource. The key is claimed, the change made and the
// answer stored in one transaction, so a crash leaves either all three or none; a concurrent
// request with the same key waits for that transaction and then gets its answer. The same key
// with another request is refused (422); keys are kept for 24 hours.
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import type { Db } from '../db/index.ts';
import type { Sweeper } from '../feature.ts';
import { PROBLEM_TYPES, respondProblem } from '../http/problem.ts';
import type { Operation, OperationCall, OperationResult } from './operation.ts';

const KEY = /^[\x21-\x7E]{1,255}$/;

interface StoredAnswer {
  request_digest: string;
  status: number | null;
  response: unknown;
  location: string | null;
}

interface IdempotentRequest {
  key: string;
  clientId: string;
  request: { method: string; path: string; body: unknown };
}

const digest = (request: IdempotentRequest['request']) => createHash('sha256').update(JSON.stringify(request)).digest('hex');

/** The operation's answer, made at most once per key; undefined when a problem was answered. */
export async function withIdempotency(
  ctx: Context,
  call: OperationCall<unknown, unknown, unknown>,
  { key, clientId, request }: IdempotentRequest,
  op: Operation,
): Promise<OperationResult | undefined> {
  if (!KEY.test(key)) {
    respondProblem(ctx, {
      type: 'urn:gatehouse:problem:invalid-input',
      title: 'The request is not valid',
      status: 400,
      detail: 'Idempotency-Key must be 1-255 visible ASCII characters',
    });
    return undefined;
  }
  const requestDigest = digest(request);
  return call.service.db.transaction(async (trx: Db) => {
    // Claims the key, or takes it over once it has expired; waits while another request holds it.
    const claimed = await trx.raw(
      `insert into idempotency_keys (client_id, key, request_digest, expires_at) values (?, ?, ?, now() + interval '24 hours')
       on conflict (client_id, key) do update
         set request_digest = excluded.request_digest, status = null, response = null, location = null, expires_at = excluded.expires_at
         where idempotency_keys.expires_at <= now()
       returning key`,
      [clientId, key, requestDigest],
    );
    if (claimed.rows.length === 0) {
      const stored = (await trx('idempotency_keys').where({ client_id: clientId, key }).first()) as StoredAnswer;
      if (stored.request_digest !== requestDigest) {
        respondProblem(ctx, {
          type: PROBLEM_TYPES.idempotencyKeyReused,
          title: 'Idempotency-Key reused',
          status: 422,
          detail: 'This Idempotency-Key was used with a different request; use a new key for a new request',
        });
        return undefined;
      }
      ctx.set('Idempotent-Replayed', 'true');
      return { body: stored.response ?? undefined, location: stored.location ?? undefined };
    }
    const result = await op.handle({ ...call, service: { ...call.service, db: trx } });
    // Stored as the client will read it (dates as strings), so a replay is byte for byte the same.
    const response = result.body === undefined ? null : JSON.stringify(result.body);
    await trx('idempotency_keys')
      .where({ client_id: clientId, key })
      .update({ status: op.status ?? 200, response, location: result.location ?? null });
    return result.body === undefined ? result : { ...result, body: JSON.parse(response as string) };
  });
}

export const idempotencyKeySweeper: Sweeper = {
  name: 'idempotency keys',
  sweep: (database) => database.db('idempotency_keys').where('expires_at', '<=', database.db.fn.now()).delete(),
};
