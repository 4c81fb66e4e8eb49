// Signing and cookie keys as operators manage them: listing (never a secret part) and rotation
// with the retention policy that keeps what was signed verifiable. Storage and the provider's
// view of keys live in oidc/keys.ts.
import type { Db } from '../db/index.ts';
import type { SecretBox } from '../secrets/secretBox.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import { InvalidInputError } from '../errors/index.ts';
import { TTL } from '../oidc/features/core.ts';
import { KEY_RELOAD_INTERVAL_SECONDS, rotateKeys, SIGNING_ALGS, type KeyRotationResult, type SigningAlg } from '../oidc/keys.ts';
import { longestJwtLifetime } from '../oidc/resourceServers.ts';

export interface KeyView {
  kid: string;
  kind: 'signing' | 'cookie';
  alg: string | null;
  state: 'current' | 'retired';
  created_at: Date;
  activates_at: Date | null;
  retired_at: Date | null;
  expires_at: Date | null;
}

export function listKeys(db: Db): Promise<KeyView[]> {
  return db('keys')
    .select('kid', 'kind', 'alg', 'state', 'created_at', 'activates_at', 'retired_at', 'expires_at')
    .orderBy('created_at', 'desc');
}

export interface RotationRequest {
  /** Signing algorithms to rotate (default: every one in use). */
  algs?: string[];
  /** Sign with the new keys at once instead of after every instance has published them. */
  now?: boolean;
}

/**
 * Replaces the signing and cookie keys. Where several instances may share the database, new keys
 * are published for two reload intervals before they sign; retired signing keys stay published
 * until the longest-lived JWT they signed has expired, retired cookie keys as long as a session.
 */
export async function rotateSigningKeys(
  ctx: ServiceContext,
  box: SecretBox,
  databaseKind: 'postgres' | 'pglite',
  request: RotationRequest = {},
): Promise<KeyRotationResult> {
  const algs = request.algs ?? [];
  const bad = algs.filter((a) => !(SIGNING_ALGS as readonly string[]).includes(a));
  if (bad.length)
    throw new InvalidInputError(`Unsupported alg ${bad.join(', ')}; choose from ${SIGNING_ALGS.join(', ')}`, [
      { path: 'algs', message: `choose from ${SIGNING_ALGS.join(', ')}` },
    ]);
  const signingRetentionSeconds = (await longestJwtLifetime(ctx.db, TTL.IdToken)) + 300;
  // The embedded database has exactly one instance.
  const shared = databaseKind === 'postgres' && !request.now;
  const policy = {
    signingRetentionSeconds,
    cookieRetentionSeconds: TTL.Session,
    activationDelaySeconds: shared ? 2 * KEY_RELOAD_INTERVAL_SECONDS : 0,
  };
  return commitChange(ctx, async (trx) => {
    const result = await rotateKeys(trx, box, policy, algs.length ? (algs as SigningAlg[]) : undefined);
    return {
      value: result,
      record: {
        type: 'keys.rotated',
        subject: 'keys',
        data: { created: result.created.map((k) => k.kid), activates_at: result.activatesAt.toISOString() },
      },
    };
  });
}
