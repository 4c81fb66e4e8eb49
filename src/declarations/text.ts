// Shapes shared by config/'s files (src/profile/schema.ts, src/policies/schema.ts), with messages
// that say what to write rather than zod's "Invalid input".
import { z } from 'zod';

const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;

/** Says "is required" for a missing value, else `message`. */
const requiredOr = (message: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : message);

/** Text in one language, or one text per language keyed by BCP 47 tag ({ en: "Phone", fr: "Téléphone" }). */
export const declaredText = (maxLength: number) =>
  z.union(
    [
      z.string().min(1).max(maxLength),
      z
        .record(z.string().regex(LANGUAGE_TAG, 'must be keyed by language tags such as en or fr-CA'), z.string().min(1).max(maxLength))
        .refine((entries) => Object.keys(entries).length > 0, 'must name at least one language'),
    ],
    { error: requiredOr(`must be a text of 1 to ${maxLength} characters, or one per language such as { en: "…", fr: "…" }`) },
  );

/** A version label: "2026-12-01", "3", 3. */
const VERSION_MESSAGE = 'must be 1 to 40 letters, digits, dots, dashes or _ (such as "2026-12-01"), or a number';
export const versionLabel = z
  .union([z.string().regex(/^[A-Za-z0-9._-]{1,40}$/, VERSION_MESSAGE), z.number()], { error: requiredOr(VERSION_MESSAGE) })
  .transform(String);
