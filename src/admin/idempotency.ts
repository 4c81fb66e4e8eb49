// Idempotency-Key on creates: a client that retries a create (its first answer was lost) gets the
// first answer again instead of a second resource. The key is claimed, the change made and the
// answer stored in one transaction, so a crash leaves either all three or none; a concurrent
// request with the same key waits for that transaction and then gets its answer. The same key
// with another request is refused (422); keys are kept for 24 hours.
import { createHmac } from 'node:crypto';
import type { Context } from 'koa';
import type { Db } from '../db/index.ts';
import { clearReadCaches } from '../db/readCache.ts';
import type { Sweeper } from '../feature.ts';
import { SealedSecretError, type SecretBox } from '../secrets/secretBox.ts';
import { PROBLEM_TYPES, respondProblem } from '../http/problem.ts';
import { InvalidInputError } from '../errors/index.ts';
import type { Operation, OperationCall, OperationResult } from './operation.ts';

const KEY = /^[\x21-\x7E]{1,255}$/;

interface StoredAnswer {
  request_digest: string;
  /** The sealed answer (a JSON string). */
  response: string | null;
  location: string | null;
}

interface IdempotentRequest {
  key: string;
  clientId: string;
  request: { method: string; path: string; body: unknown };
}

// Keyed: a request body may hold a password, and a plain digest of it would be guessable.
const digest = (box: SecretBox, request: IdempotentRequest['request']) =>
  createHmac('sha256', box.deriveKey('idempotency-request')).update(JSON.stringify(request)).digest('hex');

// The stored answer may hold a secret shown once (a new client's secret): it is sealed, bound to
// its client and key, like every other secret at rest.
const answerPlace = (clientId: string, key: string) => ({ table: 'idempotency_keys', rowId: `${clientId}:${key}`, purpose: 'answer' });

interface Answer {
  body?: unknown;
  version?: unknown;
}

/** The operation's answer, made at most once per key; undefined when a problem was answered. */
export async function withIdempotency(
  ctx: Context,
  call: OperationCall<unknown, unknown, unknown>,
  { key, clientId, request }: IdempotentRequest,
  op: Operation,
): Promise<OperationResult | undefined> {
  if (!KEY.test(key)) throw new InvalidInputError('Idempotency-Key must be 1-255 visible ASCII characters');
  const { box } = call.deps;
  const requestDigest = digest(box, request);
  const root = call.service.db;
  // A retry is answered before any work: most retries find the first answer stored.
  const earlier = await root('idempotency_keys').where({ client_id: clientId, key }).andWhere('expires_at', '>', root.fn.now()).first();
  if (earlier) return replay(ctx, box, earlier as StoredAnswer, requestDigest, clientId, key);
  const prepared = await op.prepare?.(call);
  const result = await root.transaction(async (trx: Db) => {
    // Claims the key, or takes it over once it has expired; waits while another request holds it.
    const claimed = await trx.raw(
      `insert into idempotency_keys (client_id, key, request_digest, expires_at) values (?, ?, ?, now() + interval '24 hours')
       on conflict (client_id, key) do update
         set request_digest = excluded.request_digest, response = null, location = null, expires_at = excluded.expires_at
         where idempotency_keys.expires_at <= now()
       returning key`,
      [clientId, key, requestDigest],
    );
    if (claimed.rows.length === 0) {
      // Another request with this key committed while this one prepared.
      const stored = (await trx('idempotency_keys').where({ client_id: clientId, key }).first()) as StoredAnswer;
      return replay(ctx, box, stored, requestDigest, clientId, key);
    }
    const made = await op.handle({ ...call, prepared, service: { ...call.service, db: trx } });
    // Stored as the client will read it (dates as strings), so a replay is byte for byte the same.
    const answer = JSON.stringify({ body: made.body, version: made.version } satisfies Answer);
    await trx('idempotency_keys')
      .where({ client_id: clientId, key })
      .update({
        response: JSON.stringify(box.seal(answer, answerPlace(clientId, key))),
        location: made.location ?? null,
      });
    return { ...made, ...(JSON.parse(answer) as Answer) };
  });
  // The services forgot what they changed in the transaction's caches; these are the server's.
  clearReadCaches(root);
  return result;
}

/** The first answer again, or a refusal when the key came with another request. */
function replay(
  ctx: Context,
  box: SecretBox,
  stored: StoredAnswer,
  requestDigest: string,
  clientId: string,
  key: string,
): OperationResult | undefined {
  if (stored.request_digest !== requestDigest) {
    respondProblem(ctx, {
      type: PROBLEM_TYPES.idempotencyKeyReused,
      title: 'Idempotency-Key reused',
      status: 422,
      detail: 'This Idempotency-Key was used with a different request; use a new key for a new request',
    });
    return undefined;
  }
  let answer: Answer;
  try {
    answer = JSON.parse(box.open(stored.response as string, answerPlace(clientId, key))) as Answer;
  } catch (error) {
    if (!(error instanceof SealedSecretError)) throw error;
    respondProblem(ctx, {
      type: PROBLEM_TYPES.idempotencyAnswerLost,
      title: 'The first answer can no longer be read',
      status: 409,
      detail: 'SECRET_KEY was rotated since this key was used; check whether the resource exists before retrying with a new key',
    });
    return undefined;
  }
  ctx.set('Idempotent-Replayed', 'true');
  return { ...answer, location: stored.location ?? undefined };
}

export const idempotencyKeySweeper: Sweeper = {
  name: 'idempotency keys',
  sweep: (database) => database.db('idempotency_keys').where('expires_at', '<=', database.db.fn.now()).delete(),
};
