// Versions for optimistic concurrency: a read hands out the version of what it read (the
// admin API's ETag), and an update made with an older version is refused, so two admins cannot
// overwrite each other's changes unknowingly.
import { createHash } from 'node:crypto';
import { PreconditionFailedError } from '../errors/index.ts';

/** A strong entity tag for a representation: any change to it changes the tag. */
export function versionTag(representation: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(representation)).digest('base64url').slice(0, 27)}"`;
}

/**
 * Refuses the change unless `expected` (If-Match) is absent, `*`, or names the current version.
 * Strong comparison (RFC 9110 §13.1.1): a weak tag (W/"…") never matches.
 */
export function assertVersion(expected: string | undefined, current: unknown): void {
  if (expected === undefined) return;
  const tags = expected.split(',').map((t) => t.trim());
  if (tags.includes('*') || tags.includes(versionTag(current))) return;
  throw new PreconditionFailedError('The resource has changed since you read it; read it again and reapply your change');
}

/** What a caller says about the version it last read (If-Match), for a service to check. */
export interface VersionCheck {
  ifMatch?: string;
}
