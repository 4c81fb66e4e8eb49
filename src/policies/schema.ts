// The documents users accept (terms of service, privacy policy: each with a version and a URL)
// and the purposes they may consent to (marketing email, analytics, …), as operators declare
// them in a file under config/ (POLICIES_FILE, JSON or YAML). Publishing a new version of a
// document is editing its version here: the next sign-in of everyone who accepted an older one
// asks again (the terms prompt).
import { z } from 'zod';
import { declaredText, versionLabel } from '../declarations/text.ts';

const text = declaredText(1000);

const id = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lower case letters, digits and _ (starting with a letter), at most 63');
const version = versionLabel;
const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http or https URL' });

const documentFile = z
  .object({
    id,
    title: text,
    version,
    url: httpUrl,
    /** What changed since the previous version, shown to those who accepted an earlier one. */
    changes_url: httpUrl.optional(),
    /** Declining ends the sign-in (access_denied); an optional document may be declined. */
    mandatory: z.boolean().default(true),
  })
  .strict();

const purposeFile = z
  .object({
    id,
    label: text,
    description: text.optional(),
    version,
    /** Offered (never pre-ticked) in the sign-in, once per version, besides the account area. */
    ask_at_sign_in: z.boolean().default(false),
  })
  .strict();

export const policiesFile = z
  .object({
    documents: z.array(documentFile).default([]),
    purposes: z.array(purposeFile).default([]),
  })
  .strict();

export type PolicyDocument = z.infer<typeof documentFile>;
export type Purpose = z.infer<typeof purposeFile>;
export type Policies = z.infer<typeof policiesFile>;

export const NO_POLICIES: Policies = { documents: [], purposes: [] };

export interface PolicyProblem {
  message: string;
}

/** Checks a parsed file; the policies, or every problem found (named by document or purpose id). */
export function resolvePolicies(input: unknown): { policies: Policies } | { problems: PolicyProblem[] } {
  const parsed = policiesFile.safeParse(input ?? {});
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((issue) => {
        const [section, index, ...rest] = issue.path;
        if ((section === 'documents' || section === 'purposes') && typeof index === 'number') {
          const entry = (input as Record<string, { id?: unknown }[]>)[section]?.[index];
          const name = typeof entry?.id === 'string' ? entry.id : `${section}[${index}]`;
          const kind = section === 'documents' ? 'document' : 'purpose';
          return { message: `${kind} ${name}: ${rest.length ? `${rest.map(String).join('.')}: ` : ''}${issue.message}` };
        }
        return { message: `${issue.path.map(String).join('.') || 'file'}: ${issue.message}` };
      }),
    };
  }
  const problems: PolicyProblem[] = [];
  for (const [kind, list] of [
    ['document', parsed.data.documents],
    ['purpose', parsed.data.purposes],
  ] as const) {
    const seen = new Set<string>();
    for (const entry of list) {
      if (seen.has(entry.id)) problems.push({ message: `${kind} ${entry.id}: is declared twice` });
      seen.add(entry.id);
    }
  }
  return problems.length ? { problems } : { policies: parsed.data };
}
