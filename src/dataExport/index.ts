// A user's data, as they may ask for it (GDPR art. 15 and 20): one JSON document made of parts,
// one per kind of data, each from the service that owns it. The profile schema decides which
// attributes are part of it (`export`); secrets and digests never are. A feature holding more
// personal data adds its part to PARTS.
import type { Db } from '../db/index.ts';
import type { Declared } from '../declarations/index.ts';
import { getUser } from '../accounts/index.ts';
import { listConsentRecords, listPolicyAcceptances } from '../policies/index.ts';

interface ExportPart {
  name: string;
  collect(db: Db, userId: string, declared: Declared): Promise<unknown>;
}

const PARTS: readonly ExportPart[] = [
  {
    name: 'account',
    async collect(db, userId) {
      const user = await getUser(db, userId);
      return {
        id: user.id,
        email: user.email,
        email_verified: user.email_verified,
        created_at: user.created_at,
        updated_at: user.updated_at,
      };
    },
  },
  {
    name: 'profile',
    async collect(db, userId, declared) {
      const { profile } = await getUser(db, userId);
      const exported = declared.profile.attributes.filter((a) => a.export && profile[a.name] !== undefined);
      return Object.fromEntries(exported.map((a) => [a.name, profile[a.name]]));
    },
  },
  {
    name: 'policy_decisions',
    collect: async (db, userId) =>
      (await listPolicyAcceptances(db, userId)).map(({ document, version, decision, recorded_at, client_id }) => ({
        document,
        version,
        decision,
        recorded_at,
        client_id,
      })),
  },
  {
    name: 'consents',
    collect: async (db, userId) =>
      (await listConsentRecords(db, { userId })).map(({ purpose, version, granted, recorded_at, client_id, source }) => ({
        purpose,
        version,
        granted,
        recorded_at,
        client_id,
        source,
      })),
  },
];

/** The user's data export; NotFoundError when there is no such user. */
export async function exportUserData(db: Db, userId: string, declared: Declared): Promise<Record<string, unknown>> {
  await getUser(db, userId);
  const parts = await Promise.all(PARTS.map(async (part) => [part.name, await part.collect(db, userId, declared)] as const));
  return { exported_at: new Date().toISOString(), ...Object.fromEntries(parts) };
}
