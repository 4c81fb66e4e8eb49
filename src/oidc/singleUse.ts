// Single-use artefacts stay single-use under concurrency. oidc-provider reads a code (or refresh
// token, device code, pushed request), checks that it is not consumed, then consumes it: two
// requests with the same code can both pass the check. So consuming is one conditional write that
// only one request can win, and the others are answered exactly as a sequential replay is: the
// same protocol error, and the grant (with every token issued from it) revoked.
import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Db } from '../db/index.ts';
import { DuplicateArtefactError, payloadWriterFor, type PayloadRow } from './payloadWriter.ts';
import { inReadAheadScope, setAside, takeSetAside } from './readAhead.ts';

/** A race loser: the artefact had just been consumed by a concurrent request. */
export class ConcurrentReplayError extends errors.InvalidGrant {
  /** The grant that was revoked because of the replay (absent when it was already gone). */
  readonly grantId?: string;

  constructor(description: string, grantId?: string) {
    super(description);
    this.grantId = grantId;
  }
}

// oidc-provider's own words for each model (the sequential replay says "<label> <used>"), so
// both answers match.
const WORDS: Record<string, { label: string; used: string }> = {
  AuthorizationCode: { label: 'authorization code', used: 'already consumed' },
  RefreshToken: { label: 'refresh token', used: 'already used' },
  DeviceCode: { label: 'device code', used: 'already consumed' },
  BackchannelAuthenticationRequest: { label: 'backchannel authentication request', used: 'already consumed' },
};

// What oidc-provider's revoke helper deletes with a grant.
const ISSUED_FROM_A_GRANT = [
  'AccessToken',
  'RefreshToken',
  'AuthorizationCode',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
];

/**
 * Marks the row consumed if nobody has, and then (only then) writes `successor` in the same
 * statement; otherwise revokes its grant and throws the replay error.
 */
export async function consumeOnce(db: Db, model: string, storedId: string, successor?: PayloadRow): Promise<void> {
  // Through the writer: under load the consume shares a statement with other requests' writes.
  if (await payloadWriterFor(db).consumeThenWrite(model, storedId, successor)) return;
  if (model === 'PushedAuthorizationRequest') throw new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used');
  const words = WORDS[model] ?? { label: model, used: 'already consumed' };
  const outcome = await revokeGrantOf(db, model, storedId);
  // Gone between its read and now (revoked, or swept): no replay, just nothing to redeem.
  if (!outcome.found) throw new errors.InvalidGrant(`${words.label} not found`);
  throw new ConcurrentReplayError(`${words.label} ${words.used}`, outcome.grantId);
}

// A refresh token rotation: oidc-provider consumes the old token, then at once saves its
// replacement, each awaited, so each would be a turn of the writer. Instead the consume waits in
// the request for the replacement and both go in one statement: the replacement is written only
// if this request is the one that consumed the old token, and the loser gets the replay error
// from the save. Should the replacement never be saved (the request failed in between), the old
// token is not consumed either, and nothing was issued in its place.
const rotationKey = (model: string) => `rotation:${model}`;

/** Holds the consume of a rotated token for its replacement, in a provider request; false outside one. */
export function consumeWithReplacement(model: string, storedId: string): boolean {
  if (!inReadAheadScope()) return false;
  setAside(rotationKey(model), storedId);
  return true;
}

/** The rotated token whose consume waits for this replacement, if any. */
export function rotatedBy(model: string): string | undefined {
  return takeSetAside<string>(rotationKey(model)) ?? undefined;
}

/**
 * Deletes the grant of a row and everything issued from it, in one statement. Opaque tokens the
 * race's winner writes after this are orphans (every use of one looks its grant up first); a JWT
 * access token it was handed stays valid at APIs until it expires, as with any revocation.
 */
async function revokeGrantOf(db: Db, model: string, storedId: string): Promise<{ found: boolean; grantId?: string }> {
  const result = await db.raw(
    `with source as (select grant_id, payload->>'grantId' as plain_grant_id from oidc_payloads where model = ? and id = ?),
      revoked as (
        delete from oidc_payloads
        where (model = any(?::text[]) and grant_id in (select grant_id from source))
           or (model = 'Grant' and id in (select grant_id from source))
        returning 1)
    select exists (select 1 from source) as found, (select plain_grant_id from source) as grant_id, (select count(*) from revoked) as revoked`,
    [model, storedId, ISSUED_FROM_A_GRANT],
  );
  const row = result.rows[0] as { found: boolean; grant_id: string | null };
  return { found: row.found, grantId: row.grant_id ?? undefined };
}

/**
 * oidc-provider's ReplayDetection.unique() looks an id up, then saves it: two requests with one
 * client-assertion or DPoP `jti` can both find nothing. Its rows are insert-only (adapter.ts),
 * so the second save fails; here that failure becomes the "not unique" answer oidc-provider
 * turns into its own protocol error.
 */
export function refuseConcurrentReplays(provider: Provider): void {
  const model = (provider as unknown as { ReplayDetection: { unique(...args: unknown[]): Promise<boolean> } }).ReplayDetection;
  const unique = model.unique.bind(model);
  model.unique = async (...args: unknown[]) => {
    try {
      return await unique(...args);
    } catch (error) {
      if (error instanceof DuplicateArtefactError) return false;
      throw error;
    }
  };
}
