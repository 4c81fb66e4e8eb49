// The profile schema: what a user's profile holds, how each attribute is checked, shown, released
// as a claim, and when people are asked for it. Operators write it once in a file under config/
// (PROFILE_SCHEMA_FILE, JSON or YAML); the standard OpenID Connect claims are always there
// (standardClaims.ts) and the file adds rules and custom attributes. Checked at start: a bad file
// stops the server with the attribute and the problem named (src/declarations).
import { z } from 'zod';
import { declaredText } from '../declarations/text.ts';
import { CLAIM_SCOPES, RESERVED_CLAIMS, STANDARD_CLAIMS } from './standardClaims.ts';

export const ATTRIBUTE_TYPES = ['string', 'email', 'phone', 'date', 'boolean', 'enum', 'number', 'address', 'url'] as const;
export type AttributeType = (typeof ATTRIBUTE_TYPES)[number];

/** Text in one language, or in several keyed by BCP 47 tag ({ en: "Phone", fr: "Téléphone" }). */
const text = declaredText(500);
export type Text = z.infer<typeof text>;

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date written YYYY-MM-DD')
  .refine((value) => calendarDate(value), 'is not a real date');

/** Whether YYYY-MM-DD names a day that exists (2026-02-30 does not). */
export function calendarDate(value: string): boolean {
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/**
 * When to ask for an attribute: every condition given must hold. `at: signup` puts it on the
 * sign-up form; `at: sign_in` asks for it in the profile prompt after sign-in, when missing (or
 * when the value is older than the attribute's reconfirm_after_days).
 */
const askRule = z
  .object({
    at: z.enum(['signup', 'sign_in']),
    /** Only when signing in to one of these clients. */
    clients: z.array(z.string().min(1)).min(1).optional(),
    /** Only when the client asks for the attribute's claim (by its scope, or the claims parameter). */
    when_claim_requested: z.boolean().optional(),
    /** From the user's Nth sign-in on. */
    min_sign_ins: z.number().int().min(1).max(10_000).optional(),
    /** From this day on (UTC). */
    from: isoDate.optional(),
    /** The sign-in cannot go on without it: no "Skip for now". */
    required: z.boolean().optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.at !== 'signup') return;
    for (const key of ['when_claim_requested', 'min_sign_ins'] as const)
      if (rule[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `does not apply to a sign-up (at: signup)` });
  });
export type AskRule = z.infer<typeof askRule>;

const attributeFile = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lower case letters, digits and _ (starting with a letter), at most 63'),
    type: z.enum(ATTRIBUTE_TYPES, { message: `must be one of ${ATTRIBUTE_TYPES.join(', ')}` }).optional(),
    label: text.optional(),
    help: text.optional(),
    /** A value is needed whenever it is asked for, and the user cannot remove it. */
    required: z.boolean().default(false),
    pattern: z.string().min(1).max(500).optional(),
    min_length: z.number().int().min(0).max(10_000).optional(),
    max_length: z.number().int().min(1).max(10_000).optional(),
    /** Numbers: the smallest and largest value; dates: the earliest and latest (YYYY-MM-DD). */
    min: z.union([z.number(), z.string()]).optional(),
    max: z.union([z.number(), z.string()]).optional(),
    integer: z.boolean().optional(),
    /** Allowed values of an enum, each with what the user sees. */
    values: z
      .array(z.object({ value: z.string().min(1).max(100), label: text.optional() }).strict())
      .min(1)
      .optional(),
    user_visible: z.boolean().default(true),
    user_editable: z.boolean().default(true),
    /** Part of what a user gets back when they ask for their data. */
    export: z.boolean().default(true),
    /** The claim it is released as (custom attributes: default the attribute's name). */
    claim: z
      .string()
      .regex(/^[A-Za-z0-9_:/.#-]{1,200}$/, 'must be a claim name or a URI')
      .optional(),
    /** The scope that releases the claim (custom attributes: default profile:custom). */
    scope: z
      .string()
      .regex(/^profile:[a-z0-9_.-]{1,60}$/, 'must be namespaced as profile:<name>, for example profile:shop')
      .optional(),
    ask: z.array(askRule).default([]),
    /** Asked again (pre-filled) once a value is this many days old. */
    reconfirm_after_days: z.number().int().min(1).max(36_500).optional(),
    /** After "Skip for now", not asked again for this many days (default: the prompt's). */
    skip_cooldown_days: z.number().int().min(0).max(3650).optional(),
  })
  .strict();
type AttributeFile = z.infer<typeof attributeFile>;

export const profileSchemaFile = z
  .object({
    prompt: z
      .object({
        /** The most attributes one profile screen asks for. */
        max_per_screen: z.number().int().min(1).max(20).default(3),
        skip_cooldown_days: z.number().int().min(0).max(3650).default(7),
      })
      .strict()
      .default({ max_per_screen: 3, skip_cooldown_days: 7 }),
    attributes: z.array(attributeFile).default([]),
  })
  .strict();

export interface Attribute {
  name: string;
  type: AttributeType;
  label: Text;
  help?: Text;
  required: boolean;
  pattern?: RegExp;
  /** The pattern as written, for the form's pattern attribute. */
  patternSource?: string;
  minLength?: number;
  maxLength: number;
  min?: number | string;
  max?: number | string;
  integer: boolean;
  values?: { value: string; label: Text }[];
  userVisible: boolean;
  userEditable: boolean;
  export: boolean;
  claim: string;
  scope: string;
  ask: AskRule[];
  reconfirmAfterDays?: number;
  skipCooldownDays: number;
  standard: boolean;
  /** Named in the operator's file (a standard claim it leaves out is not shown unless it has a value). */
  declared: boolean;
  autocomplete?: string;
}

export interface ProfileSchema {
  attributes: readonly Attribute[];
  byName: ReadonlyMap<string, Attribute>;
  maxPerScreen: number;
  /** Every scope that releases profile claims, with the claims it releases. */
  scopes: Readonly<Record<string, string[]>>;
}

/** A problem with the schema, named by the attribute it is about. */
export interface SchemaProblem {
  attribute?: string;
  message: string;
}

const DEFAULT_TEXT_LENGTH = 200;
// A phone number is typed with spaces, dots and brackets; what is stored is E.164 (at most 16).
const TEXT_LENGTH: Partial<Record<AttributeType, number>> = { email: 254, phone: 32, url: 2000 };
const CUSTOM_SCOPE = 'profile:custom';

/** The problems of one attribute that the zod shape alone cannot see. */
function attributeProblems(entry: AttributeFile): string[] {
  const problems: string[] = [];
  const standard = STANDARD_CLAIMS[entry.name];
  const type = entry.type ?? standard?.type;
  if (!type) problems.push(`type is required for a custom attribute (one of ${ATTRIBUTE_TYPES.join(', ')})`);
  if (standard && entry.type && entry.type !== standard.type)
    problems.push(`is the standard claim ${entry.name}, of type ${standard.type}; its type cannot be changed`);
  if (standard && (entry.claim ?? entry.name) !== entry.name) problems.push(`is a standard claim; its claim name cannot be changed`);
  if (standard && entry.scope)
    problems.push(`is a standard claim, released under the ${standard.scope} scope; its scope cannot be changed`);
  if (!standard && RESERVED_CLAIMS.has(entry.claim ?? entry.name))
    problems.push(`claim ${entry.claim ?? entry.name} is reserved (a protocol or standard claim); choose another claim name`);
  if (!standard && !entry.label) problems.push('label is required for a custom attribute');
  if (type === 'enum' && !entry.values) problems.push('values is required for an enum');
  if (type !== 'enum' && entry.values) problems.push('values only applies to an enum');
  if (entry.pattern !== undefined) {
    if (!['string', 'email', 'phone', 'url'].includes(type ?? '')) problems.push(`pattern does not apply to type ${type}`);
    else {
      try {
        new RegExp(entry.pattern, 'v');
      } catch {
        problems.push(`pattern is not a valid regular expression: ${entry.pattern}`);
      }
    }
  }
  if ((entry.min_length !== undefined || entry.max_length !== undefined) && !['string', 'email', 'url'].includes(type ?? ''))
    problems.push(`min_length and max_length do not apply to type ${type}`);
  if (entry.min_length !== undefined && entry.max_length !== undefined && entry.min_length > entry.max_length)
    problems.push('min_length is greater than max_length');
  for (const bound of ['min', 'max'] as const) {
    const value = entry[bound];
    if (value === undefined) continue;
    if (type === 'number' && typeof value !== 'number') problems.push(`${bound} must be a number for type number`);
    else if (type === 'date' && (typeof value !== 'string' || !isoDate.safeParse(value).success))
      problems.push(`${bound} must be a real date written YYYY-MM-DD for type date`);
    else if (type !== 'number' && type !== 'date') problems.push(`${bound} does not apply to type ${type}`);
  }
  if (entry.min !== undefined && entry.max !== undefined && entry.min > entry.max) problems.push('min is greater than max');
  if (entry.integer !== undefined && type !== 'number') problems.push('integer only applies to type number');
  if (entry.user_editable && !entry.user_visible)
    problems.push('user_editable needs user_visible (a user cannot edit what they cannot see)');
  const values = entry.values?.map((v) => v.value) ?? [];
  if (new Set(values).size !== values.length) problems.push('values lists the same value twice');
  return problems;
}

function resolveAttribute(entry: AttributeFile, skipCooldownDays: number, declared = true): Attribute {
  const standard = STANDARD_CLAIMS[entry.name];
  const type = (entry.type ?? standard?.type) as AttributeType;
  return {
    name: entry.name,
    type,
    label: entry.label ?? standard?.label ?? entry.name,
    help: entry.help,
    required: entry.required,
    pattern: entry.pattern === undefined ? undefined : new RegExp(`^(?:${entry.pattern})$`, 'v'),
    patternSource: entry.pattern,
    minLength: entry.min_length,
    maxLength: entry.max_length ?? standard?.maxLength ?? TEXT_LENGTH[type] ?? DEFAULT_TEXT_LENGTH,
    min: entry.min,
    max: entry.max,
    integer: entry.integer ?? false,
    values: entry.values?.map((v) => ({ value: v.value, label: v.label ?? v.value })),
    userVisible: entry.user_visible,
    userEditable: entry.user_editable,
    export: entry.export,
    claim: standard ? entry.name : (entry.claim ?? entry.name),
    scope: standard?.scope ?? entry.scope ?? CUSTOM_SCOPE,
    ask: entry.ask,
    reconfirmAfterDays: entry.reconfirm_after_days,
    skipCooldownDays: entry.skip_cooldown_days ?? skipCooldownDays,
    standard: Boolean(standard),
    declared,
    autocomplete: standard?.autocomplete,
  };
}

/** The standard claims an operator's file did not mention, as they come. */
function untouchedStandardClaims(mentioned: Set<string>, skipCooldownDays: number): Attribute[] {
  return Object.keys(STANDARD_CLAIMS)
    .filter((name) => !mentioned.has(name))
    .map((name) => resolveAttribute(attributeFile.parse({ name }), skipCooldownDays, false));
}

function scopesOf(attributes: readonly Attribute[]): Record<string, string[]> {
  const scopes: Record<string, string[]> = Object.fromEntries(CLAIM_SCOPES.map((scope) => [scope, []]));
  for (const attribute of attributes) {
    if (attribute.scope === 'profile') continue; // the profile scope's claims are oidc-provider's standard list
    scopes[attribute.scope] = [...(scopes[attribute.scope] ?? []), attribute.claim];
  }
  if (scopes.phone.length) scopes.phone.push('phone_number_verified');
  scopes.consents.push('consents');
  return scopes;
}

/** Checks a parsed file; the schema, or every problem found (each named by its attribute). */
export function resolveProfileSchema(input: unknown): { schema: ProfileSchema } | { problems: SchemaProblem[] } {
  const parsed = profileSchemaFile.safeParse(input ?? {});
  if (!parsed.success) return { problems: parsed.error.issues.map((issue) => zodProblem(input, issue)) };
  const file = parsed.data;
  const problems: SchemaProblem[] = [];
  const seenNames = new Set<string>();
  const seenClaims = new Map<string, string>();
  for (const entry of file.attributes) {
    if (seenNames.has(entry.name)) problems.push({ attribute: entry.name, message: 'is declared twice' });
    seenNames.add(entry.name);
    const claim = entry.claim ?? entry.name;
    const other = seenClaims.get(claim);
    if (other) problems.push({ attribute: entry.name, message: `claim ${claim} is already the claim of ${other}` });
    seenClaims.set(claim, entry.name);
    for (const message of attributeProblems(entry)) problems.push({ attribute: entry.name, message });
  }
  if (problems.length) return { problems };
  const cooldown = file.prompt.skip_cooldown_days;
  const attributes = [
    ...file.attributes.map((entry) => resolveAttribute(entry, cooldown)),
    ...untouchedStandardClaims(seenNames, cooldown),
  ];
  return {
    schema: {
      attributes,
      byName: new Map(attributes.map((a) => [a.name, a])),
      maxPerScreen: file.prompt.max_per_screen,
      scopes: scopesOf(attributes),
    },
  };
}

/** The schema without a file: every standard claim, asked for nowhere. */
export const DEFAULT_PROFILE_SCHEMA: ProfileSchema = (() => {
  const resolved = resolveProfileSchema({});
  if (!('schema' in resolved)) throw new Error('the built-in profile schema is invalid');
  return resolved.schema;
})();

// A zod issue under attributes[i] is reported with that attribute's name (when it has one).
function zodProblem(input: unknown, issue: z.core.$ZodIssue): SchemaProblem {
  const [section, index, ...rest] = issue.path;
  const where = rest.length ? `${rest.map(String).join('.')}: ` : '';
  if (section === 'attributes' && typeof index === 'number') {
    const entry = (input as { attributes?: { name?: unknown }[] }).attributes?.[index];
    const name = typeof entry?.name === 'string' ? entry.name : `attributes[${index}]`;
    return { attribute: name, message: rest.length ? `${where}${issue.message}` : issue.message };
  }
  return { message: `${issue.path.map(String).join('.') || 'file'}: ${issue.message}` };
}
