// Connections: the upstream identity providers operators connect, as the CLI, the admin API and
// an imported file manage them. A connection says how to reach the provider (its settings), who
// is offered it (clients, email domains for home-realm discovery), what its sign-ins may do (JIT
// provisioning, linking, claim updates) and how upstream claims map to the profile. Its secret is
// sealed with SECRET_KEY and never shown again. Each change writes its audit record and event.
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/index.ts';
import type { SecretBox, SealContext } from '../secrets/secretBox.ts';
import type { SealedColumn } from '../secrets/sealedColumns.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import { assertVersion, type VersionCheck } from '../changes/versionTag.ts';
import { ConflictError, InvalidInputError, NotFoundError, fieldProblems, parseInput } from '../errors/index.ts';
import { isUniqueViolation } from '../db/constraints.ts';
import { readCache } from '../db/readCache.ts';
import { parseIdpMetadata } from './samlMetadata.ts';

export const CONNECTION_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export const LINKING_POLICIES = ['verified_email_with_proof', 'never'] as const;
export const CLAIMS_UPDATES = ['on_sign_in', 'never'] as const;

/** Microsoft Entra ID's tenants: common (work, school and personal accounts), organizations, consumers, or one directory. */
const ENTRA_TENANT =
  /^(common|organizations|consumers|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9-]+(\.[a-z0-9-]+)+)$/;
const ENTRA_TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Apple's team and key identifiers (Certificates, Identifiers & Profiles). */
const APPLE_ID = /^[A-Z0-9]{10}$/;

export const OIDC_PRESETS = ['generic', 'google', 'microsoft', 'apple'] as const;
export type OidcPreset = (typeof OIDC_PRESETS)[number];

/** The issuer of a preset (its discovery document is read from <issuer>/.well-known/openid-configuration). */
function presetIssuer(preset: OidcPreset, tenant: string): string | undefined {
  if (preset === 'google') return 'https://accounts.google.com';
  if (preset === 'apple') return 'https://appleid.apple.com';
  if (preset === 'microsoft') return `https://login.microsoftonline.com/${tenant}/v2.0`;
  return undefined;
}

/** The settings only one preset has: given with another, they would silently do nothing. */
const PRESET_ONLY: Record<string, OidcPreset> = { tenant: 'microsoft', allowed_tenants: 'microsoft', team_id: 'apple', key_id: 'apple' };

const oidcSettings = z
  .object({
    preset: z.enum(OIDC_PRESETS).default('generic'),
    /** The upstream's issuer (generic preset): its discovery document is read from <issuer>/.well-known/openid-configuration. */
    issuer: z.url({ protocol: /^https?$/, message: 'issuer must be an http or https URL' }).optional(),
    client_id: z.string().min(1, 'client_id is required').max(500),
    scopes: z
      .array(z.string().regex(SCOPE_TOKEN, 'scopes must be scope tokens'))
      .max(50)
      .refine((scopes) => scopes.includes('openid'), 'scopes must include openid')
      .optional(),
    token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']).optional(),
    /** form_post: the provider posts the code back (response_mode=form_post) instead of putting it in the URL. */
    response_mode: z.enum(['query', 'form_post']).optional(),
    /** Microsoft: the tenant signed in against (common, organizations, consumers, or a directory's id or domain). */
    tenant: z
      .string()
      .trim()
      .toLowerCase()
      .regex(ENTRA_TENANT, 'tenant must be common, organizations, consumers, a tenant id or a domain')
      .optional(),
    /** Microsoft, multi-tenant: the directories (tenant ids) whose people may sign in; none given: every directory. */
    allowed_tenants: z
      .array(z.string().trim().toLowerCase().regex(ENTRA_TENANT_ID, 'allowed_tenants must be tenant ids (GUIDs)'))
      .min(1)
      .max(500)
      .optional(),
    /** Apple: the developer team id, the iss of the client secret Gatehouse signs. */
    team_id: z.string().regex(APPLE_ID, 'team_id must be the 10-character Apple team id').optional(),
    /** Apple: the id of the Sign in with Apple key (the .p8 file, given as the client secret). */
    key_id: z.string().regex(APPLE_ID, 'key_id must be the 10-character id of the Sign in with Apple key').optional(),
  })
  .strict()
  .superRefine((settings, ctx) => {
    for (const [field, preset] of Object.entries(PRESET_ONLY))
      if (settings[field as keyof typeof settings] !== undefined && settings.preset !== preset)
        ctx.addIssue({ code: 'custom', path: [field], message: `${field} is a setting of preset: ${preset}` });
    const derived = presetIssuer(settings.preset, settings.tenant ?? 'common');
    if (!derived && !settings.issuer)
      ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'issuer is required (or a preset: google, microsoft, apple)' });
    // A stored preset connection read back may carry the issuer it was shown with; another one is a mistake.
    if (derived && settings.issuer && settings.issuer !== derived)
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: `issuer comes from preset: ${settings.preset} (${derived}); leave it out`,
      });
    if (settings.preset === 'apple') {
      for (const field of ['team_id', 'key_id'] as const)
        if (!settings[field]) ctx.addIssue({ code: 'custom', path: [field], message: `${field} is required for preset: apple` });
      // Apple posts the code back whenever it is asked for a name or email, and takes its client secret in the body.
      if (settings.response_mode === 'query')
        ctx.addIssue({ code: 'custom', path: ['response_mode'], message: 'Apple answers with response_mode form_post' });
      if (settings.token_endpoint_auth_method && settings.token_endpoint_auth_method !== 'client_secret_post')
        ctx.addIssue({
          code: 'custom',
          path: ['token_endpoint_auth_method'],
          message: 'Apple takes its client secret by client_secret_post',
        });
    }
  })
  .transform(({ issuer, ...settings }) => {
    const apple = settings.preset === 'apple';
    return {
      ...settings,
      // A preset's issuer is worked out where it is used (oidcIssuer), so a changed tenant changes it.
      ...(settings.preset === 'generic' && { issuer }),
      ...(settings.preset === 'microsoft' && { tenant: settings.tenant ?? 'common' }),
      scopes: settings.scopes ?? (apple ? ['openid', 'email', 'name'] : ['openid', 'email', 'profile']),
      token_endpoint_auth_method: settings.token_endpoint_auth_method ?? (apple ? 'client_secret_post' : 'client_secret_basic'),
      response_mode: settings.response_mode ?? (apple ? 'form_post' : 'query'),
    };
  });
export type OidcSettings = z.output<typeof oidcSettings>;

/** Where an OpenID Connect connection's provider is: its own issuer, or its preset's. */
export const oidcIssuer = (settings: OidcSettings): string =>
  settings.issuer ?? (presetIssuer(settings.preset, settings.tenant ?? 'common') as string);

const httpUrl = (name: string) => z.url({ protocol: /^https?$/, message: `${name} must be an http or https URL` });
const claimPath = z.string().regex(/^[\w:/.#-]{1,200}$/, 'must be a claim name or a dotted path');

/** What GitHub needs (OAuth 2.0 without OpenID Connect); any field given in the connection wins. */
export const GITHUB_PRESET = {
  authorization_endpoint: 'https://github.com/login/oauth/authorize',
  token_endpoint: 'https://github.com/login/oauth/access_token',
  profile_url: 'https://api.github.com/user',
  emails_url: 'https://api.github.com/user/emails',
  scopes: ['read:user', 'user:email'],
  subject_claim: 'id',
};

/**
 * OAuth 2.0 without OpenID Connect: who the person is comes from a profile URL (JSON, read with
 * the access token). `emails_url` (GitHub's shape: a list of { email, primary, verified }) is
 * where a verified email is found when the profile does not say one is verified.
 */
const oauth2Settings = z
  .object({
    preset: z.enum(['generic', 'github']).default('generic'),
    client_id: z.string().min(1, 'client_id is required').max(500),
    authorization_endpoint: httpUrl('authorization_endpoint').optional(),
    token_endpoint: httpUrl('token_endpoint').optional(),
    profile_url: httpUrl('profile_url').optional(),
    emails_url: httpUrl('emails_url').optional(),
    scopes: z.array(z.string().regex(SCOPE_TOKEN, 'scopes must be scope tokens')).max(50).optional(),
    /** Where in the profile the provider's stable id for the person is. */
    subject_claim: claimPath.optional(),
    email_claim: claimPath.default('email'),
    /** Where the profile says the email is verified; without it (or emails_url) no email counts as verified. */
    email_verified_claim: claimPath.optional(),
    token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']).default('client_secret_post'),
  })
  .strict()
  .transform((settings) => (settings.preset === 'github' ? withGithubDefaults(settings) : settings))
  .superRefine((settings, ctx) => {
    for (const field of ['authorization_endpoint', 'token_endpoint', 'profile_url', 'subject_claim'] as const)
      if (!settings[field]) ctx.addIssue({ code: 'custom', path: [field], message: `${field} is required (or preset: github)` });
  });
export type OAuth2Settings = z.output<typeof oauth2Settings>;

const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;
const certificate = z
  .string()
  .trim()
  .regex(PEM_CERTIFICATE, 'must be a PEM certificate (-----BEGIN CERTIFICATE----- …)')
  .refine(isCertificate, 'must be a PEM certificate that can be read (its base64 is damaged)');

function isCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/** What an IdP is: given one by one, or read from its metadata, they pass the same checks. */
const idpFields = z.object({
  idp_entity_id: z.string().min(1).max(1000),
  sso_url: httpUrl('sso_url'),
  idp_certificates: z.array(certificate).min(1, 'idp_certificates needs at least one certificate').max(10),
  /** The IdP's single logout service (HTTP-Redirect binding): with it, sign-outs go both ways. */
  slo_url: httpUrl('slo_url').optional(),
});

export const NAME_ID_FORMATS = [
  'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
] as const;

/**
 * SAML 2.0, Gatehouse as the service provider: the IdP's entity id, its single sign-on URL
 * (HTTP-Redirect binding) and its signing certificates (several while it rotates them); and,
 * for single logout, its SingleLogoutService (HTTP-Redirect), which needs our signing key.
 */
const samlSettings = z
  .object({
    idp_entity_id: idpFields.shape.idp_entity_id.optional(),
    sso_url: idpFields.shape.sso_url.optional(),
    idp_certificates: idpFields.shape.idp_certificates.optional(),
    /** null: no single logout (an update that turns it off). */
    slo_url: idpFields.shape.slo_url.nullable(),
    /** The IdP's metadata XML: fills (and replaces) idp_entity_id, sso_url and idp_certificates; not kept. */
    idp_metadata_xml: z.string().max(1_048_576, 'idp_metadata_xml is larger than 1 MB').optional(),
    name_id_format: z.enum(NAME_ID_FORMATS).default('urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'),
    /** The attribute with the person's email (or the NameID itself, with the emailAddress format). */
    email_attribute: claimPath.default('email'),
    /** Whether this IdP's emails of the connection's `domains` count as verified (a directory vouches for its own). */
    emails_verified: z.boolean().default(false),
    want_encrypted_assertions: z.boolean().default(false),
    /** Our certificate (for the IdP: encrypting assertions, checking signed requests); its key is the sealed secret. */
    sp_certificate: certificate.optional(),
    clock_skew_seconds: z.number().int().min(0).max(300).default(60),
  })
  .strict()
  .transform((input, ctx) => {
    const { idp_metadata_xml: xml, slo_url: givenSlo, ...rest } = input;
    let settings: typeof rest & { slo_url?: string } = { ...rest, ...(givenSlo && { slo_url: givenSlo }) };
    const given = settings;
    if (xml !== undefined) {
      const read = parseIdpMetadata(xml);
      if ('problem' in read) {
        ctx.addIssue({ code: 'custom', path: ['idp_metadata_xml'], message: `idp_metadata_xml ${read.problem}` });
        return z.NEVER;
      }
      // What the metadata says is checked as if it had been given by hand (below).
      const checked = idpFields.safeParse(read.metadata);
      if (!checked.success) {
        for (const issue of checked.error.issues)
          ctx.addIssue({
            code: 'custom',
            path: ['idp_metadata_xml'],
            message: `idp_metadata_xml: ${issue.path.join('.')}: ${issue.message}`,
          });
        return z.NEVER;
      }
      // The IdP's single logout service is taken only for a connection that can sign its
      // messages (sp_certificate): most IdPs list one, and SLO without our signature is refused.
      const { slo_url: listedSlo, ...idp } = checked.data;
      settings = { ...given, ...idp, ...(listedSlo && given.sp_certificate && { slo_url: listedSlo }) };
    }
    const { idp_entity_id, sso_url, idp_certificates } = settings;
    for (const [field, value] of Object.entries({ idp_entity_id, sso_url, idp_certificates }))
      if (!value) ctx.addIssue({ code: 'custom', path: [field], message: `${field} is required (or give idp_metadata_xml)` });
    if (settings.want_encrypted_assertions && !settings.sp_certificate)
      ctx.addIssue({ code: 'custom', path: ['sp_certificate'], message: 'sp_certificate is required for encrypted assertions' });
    if (settings.slo_url && !settings.sp_certificate)
      ctx.addIssue({
        code: 'custom',
        path: ['slo_url'],
        message: 'slo_url needs sp_certificate and sp_private_key: single logout messages are signed',
      });
    if (!idp_entity_id || !sso_url || !idp_certificates) return z.NEVER;
    return { ...settings, idp_entity_id, sso_url, idp_certificates };
  });
export type SamlSettings = z.output<typeof samlSettings>;

function withGithubDefaults<T extends { [K in keyof typeof GITHUB_PRESET]?: (typeof GITHUB_PRESET)[K] | undefined }>(settings: T): T {
  const filled = { ...settings } as Record<string, unknown>;
  for (const [field, value] of Object.entries(GITHUB_PRESET)) filled[field] ??= value;
  return filled as T;
}

/** Upstream claim (a name, or a dotted path into it) for each profile attribute it fills. */
const mapping = z
  .record(
    z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'mapping keys are profile attribute names'),
    z.string().regex(/^[\w:/.#-]{1,200}$/, 'mapping values are upstream claim names or dotted paths'),
  )
  .refine((entries) => Object.keys(entries).length <= 100, 'mapping has at most 100 entries');

const connectionFields = {
  display_name: z.string().trim().min(1, 'display_name is required').max(100),
  enabled: z.boolean(),
  /** The clients whose sign-in screens offer it; null: every client. */
  clients: z.array(z.string().min(1).max(100)).max(500).nullable(),
  /** Email domains whose users are sent to this provider from the sign-in screen (home-realm discovery). */
  domains: z.array(z.string().trim().toLowerCase().regex(DOMAIN, 'domains must be domain names such as example.com')).max(100),
  /** Create the user at their first sign-in through this provider. */
  jit: z.boolean(),
  /** Whether an upstream identity whose verified email has an account may be linked to it (after the owner proves it is theirs). */
  linking: z.enum(LINKING_POLICIES),
  /** Whether mapped claims are updated from the upstream at each sign-in, or only set when the user is created. */
  claims_update: z.enum(CLAIMS_UPDATES),
  mapping,
};

const newConnectionFields = {
  id: z.string().regex(CONNECTION_ID, 'id must be 2-63 lower case letters, digits and -, such as acme-sso'),
  display_name: connectionFields.display_name,
  enabled: connectionFields.enabled.default(true),
  clients: connectionFields.clients.default(null),
  domains: connectionFields.domains.default([]),
  jit: connectionFields.jit.default(true),
  linking: connectionFields.linking.default('verified_email_with_proof'),
  claims_update: connectionFields.claims_update.default('on_sign_in'),
  mapping: connectionFields.mapping.default({}),
  /** The upstream client secret (sealed at rest, never shown again). */
  client_secret: z.string().min(1).max(2000).optional(),
};

export const CONNECTION_TYPES = ['oidc', 'oauth2', 'saml'] as const;

export const newConnectionSchema = z
  .discriminatedUnion(
    'type',
    [
      z.object({ ...newConnectionFields, type: z.literal('oidc'), settings: oidcSettings }).strict(),
      z.object({ ...newConnectionFields, type: z.literal('oauth2'), settings: oauth2Settings }).strict(),
      z
        .object({
          ...newConnectionFields,
          type: z.literal('saml'),
          settings: samlSettings,
          client_secret: z.never({ message: 'a SAML connection has no client secret: give sp_private_key' }).optional(),
          /** Our private key (PEM), for decrypting assertions and signing requests; sealed at rest. */
          sp_private_key: z.string().min(1).max(10_000).optional(),
        })
        .strict(),
    ],
    { error: `type must be one of ${CONNECTION_TYPES.join(', ')}` },
  )
  .meta({ id: 'NewConnection' });
export type NewConnection = z.input<typeof newConnectionSchema>;

export const connectionUpdateSchema = z
  .object({
    ...connectionFields,
    /** Settings to change; merged with the current ones (null removes one) and checked as a whole for the connection's type. */
    settings: z.record(z.string(), z.unknown()),
    /** A new upstream client secret; null removes it. */
    client_secret: z.string().min(1).max(2000).nullable(),
    /** SAML: a new service provider private key (PEM); null removes it. */
    sp_private_key: z.string().min(1).max(10_000).nullable(),
  })
  .partial()
  .strict()
  .meta({ id: 'ConnectionUpdate' });

type ConnectionRow = ConnectionColumns &
  ({ type: 'oidc'; settings: OidcSettings } | { type: 'oauth2'; settings: OAuth2Settings } | { type: 'saml'; settings: SamlSettings });

interface ConnectionColumns {
  id: string;
  display_name: string;
  enabled: boolean;
  client_ids: string[] | null;
  domains: string[];
  jit: boolean;
  linking: (typeof LINKING_POLICIES)[number];
  claims_update: (typeof CLAIMS_UPDATES)[number];
  mapping: Record<string, string>;
  secret: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A connection as operators see it: never its secret, only whether it has one. */
export type Connection = DistributiveOmit<ConnectionRow, 'secret' | 'client_ids'> & {
  clients: string[] | null;
  has_client_secret: boolean;
};
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

const secretContext = (id: string): SealContext => ({ table: 'connections', rowId: id, purpose: 'secret' });

/** Upstream secrets, for `secrets rotate` and the start-up check. */
export const SEALED_CONNECTION_SECRETS: SealedColumn = {
  table: 'connections',
  idColumn: 'id',
  column: 'secret',
  context: (row) => secretContext(row.id),
};

function view(row: ConnectionRow): Connection {
  const { secret, client_ids, ...rest } = row;
  // A preset's issuer is shown as it is used; it is not stored (see oidcIssuer).
  const settings = row.type === 'oidc' ? { ...row.settings, issuer: oidcIssuer(row.settings) } : row.settings;
  return { ...rest, settings, clients: client_ids, has_client_secret: Boolean(secret) } as Connection;
}

/** A connection's settings checked for its type (after an update merged new ones in). */
function checkedSettings(type: ConnectionRow['type'], settings: Record<string, unknown>): ConnectionRow['settings'] {
  const parsed = ({ oidc: oidcSettings, oauth2: oauth2Settings, saml: samlSettings } as const)[type].safeParse(settings);
  if (parsed.success) return parsed.data;
  throw new InvalidInputError(
    'Invalid input',
    fieldProblems(parsed.error).map((problem) => ({ ...problem, path: `settings.${problem.path}` })),
  );
}

export type OidcConnection = Connection & { type: 'oidc' };
export type OAuth2Connection = Connection & { type: 'oauth2' };
export type SamlConnection = Connection & { type: 'saml' };

const columns = (input: Partial<z.output<typeof connectionUpdateSchema>>) => ({
  ...(input.display_name !== undefined && { display_name: input.display_name }),
  ...(input.enabled !== undefined && { enabled: input.enabled }),
  ...(input.clients !== undefined && { client_ids: input.clients === null ? null : JSON.stringify(input.clients) }),
  ...(input.domains !== undefined && { domains: JSON.stringify([...new Set(input.domains)]) }),
  ...(input.jit !== undefined && { jit: input.jit }),
  ...(input.linking !== undefined && { linking: input.linking }),
  ...(input.claims_update !== undefined && { claims_update: input.claims_update }),
  ...(input.mapping !== undefined && { mapping: JSON.stringify(input.mapping) }),
});

/** What a new connection seals: an upstream client secret, or a SAML service provider's private key. */
const secretOf = (data: z.output<typeof newConnectionSchema>) => ('sp_private_key' in data ? data.sp_private_key : data.client_secret);

async function findRow(db: Db, id: string): Promise<ConnectionRow | undefined> {
  return db<ConnectionRow>('connections').where('id', id).first();
}

/**
 * The secret must be one the connection can use: none for a client that does not authenticate at
 * the token endpoint, and for Apple the Sign in with Apple key (.p8, a P-256 private key) from
 * which each client secret is signed.
 */
function checkSecretFits(type: ConnectionRow['type'], settings: ConnectionRow['settings'], secret: string | null | undefined): void {
  if (type === 'saml') {
    checkSpKeyFits(settings as SamlSettings, secret);
    return;
  }
  const problem = (message: string) => new InvalidInputError('Invalid input', [{ path: 'client_secret', message }]);
  const oidc = type === 'oidc' ? (settings as OidcSettings) : undefined;
  if (oidc?.preset === 'apple') {
    if (!secret) throw problem('client_secret is required for preset: apple: the Sign in with Apple key (.p8 file)');
    if (!isP256PrivateKey(secret)) throw problem('client_secret must be the Sign in with Apple key: a .p8 file (PEM, BEGIN PRIVATE KEY)');
    return;
  }
  if ((settings as OidcSettings | OAuth2Settings).token_endpoint_auth_method === 'none' && secret)
    throw problem('client_secret is not used with token_endpoint_auth_method none');
}

/** A SAML connection's key: needed to decrypt assertions and to sign logout messages, and the key of our certificate. */
function checkSpKeyFits(settings: SamlSettings, key: string | null | undefined): void {
  const problem = (message: string) => new InvalidInputError('Invalid input', [{ path: 'sp_private_key', message }]);
  if (settings.want_encrypted_assertions && !key) throw problem('sp_private_key is required for encrypted assertions');
  if (settings.slo_url && !key) throw problem('sp_private_key is required for single logout (slo_url): its messages are signed');
  if (!key) return;
  let publicOfKey: string;
  try {
    publicOfKey = createPublicKey(createPrivateKey(key)).export({ type: 'spki', format: 'pem' }) as string;
  } catch {
    throw problem('sp_private_key must be a PEM private key');
  }
  if (
    settings.sp_certificate &&
    new X509Certificate(settings.sp_certificate).publicKey.export({ type: 'spki', format: 'pem' }) !== publicOfKey
  )
    throw problem('sp_private_key is not the key of sp_certificate');
}

function isP256PrivateKey(pem: string): boolean {
  if (!pem.includes('-----BEGIN PRIVATE KEY-----')) return false;
  try {
    const key = createPrivateKey(pem);
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  } catch {
    return false;
  }
}

export async function createConnection(ctx: ServiceContext, box: SecretBox, input: unknown): Promise<Connection> {
  const data = parseInput(newConnectionSchema, input);
  checkSecretFits(data.type, data.settings, secretOf(data));
  return commitChange(ctx, async (trx) => {
    const row = {
      id: data.id,
      type: data.type,
      ...columns(data),
      settings: JSON.stringify(data.settings),
      secret: secretOf(data) ? box.seal(secretOf(data) as string, secretContext(data.id)) : null,
    };
    const [created] = (await trx('connections')
      .insert(row)
      .returning('*')
      .catch((error: unknown) => {
        if (isUniqueViolation(error)) throw new ConflictError(`A connection ${data.id} already exists`);
        throw error;
      })) as ConnectionRow[];
    return {
      value: view(created),
      record: { type: 'connection.created', subject: data.id, data: { id: data.id, type: data.type, display_name: data.display_name } },
    };
  }).finally(() => forgetConnections(ctx.db));
}

/** The secret an update sets (null: removes): a SAML connection's is its sp_private_key, any other's its client_secret. */
function secretChange(type: ConnectionRow['type'], data: z.output<typeof connectionUpdateSchema>): string | null | undefined {
  const [given, other] = type === 'saml' ? (['sp_private_key', 'client_secret'] as const) : (['client_secret', 'sp_private_key'] as const);
  if (data[other] !== undefined)
    throw new InvalidInputError('Invalid input', [
      {
        path: other,
        message: type === 'saml' ? 'a SAML connection has no client secret: give sp_private_key' : 'sp_private_key is for SAML connections',
      },
    ]);
  return data[given];
}

/** An update's settings over the current ones; a null removes a setting (it takes its default again, if it has one). */
function mergedSettings(current: ConnectionRow['settings'], changes: Record<string, unknown>): Record<string, unknown> {
  const notSet = Object.keys(changes).filter((name) => changes[name] === null && !(name in current));
  if (notSet.length)
    throw new InvalidInputError(
      'Invalid input',
      notSet.map((name) => ({ path: `settings.${name}`, message: `${name} is not set on this connection` })),
    );
  const merged: Record<string, unknown> = { ...current, ...changes };
  for (const [name, value] of Object.entries(merged)) if (value === null) delete merged[name];
  return merged;
}

/**
 * Changes what `input` names. Its settings are merged into the stored ones (an operator changes
 * one), or with `replaceSettings` take their place (an import, whose entry is the whole connection).
 */
export async function updateConnection(
  ctx: ServiceContext,
  box: SecretBox,
  id: string,
  input: unknown,
  { replaceSettings = false } = {},
): Promise<Connection> {
  const data = parseInput(connectionUpdateSchema, input);
  return commitChange(ctx, async (trx) => {
    const current = await trx<ConnectionRow>('connections').where('id', id).forUpdate().first();
    if (!current) throw new NotFoundError(`No connection ${id}`);
    const settings = data.settings
      ? checkedSettings(current.type, replaceSettings ? data.settings : mergedSettings(current.settings, data.settings))
      : undefined;
    const newSecret = secretChange(current.type, data);
    if (settings || newSecret !== undefined) {
      const secret = newSecret !== undefined ? newSecret : current.secret && box.open(current.secret, secretContext(id));
      checkSecretFits(current.type, settings ?? current.settings, secret);
    }
    const changes = {
      ...columns(data),
      ...(settings && { settings: JSON.stringify(settings) }),
      ...(newSecret !== undefined && { secret: newSecret === null ? null : box.seal(newSecret, secretContext(id)) }),
      updated_at: trx.fn.now(),
    };
    const [updated] = (await trx('connections').where('id', id).update(changes).returning('*')) as ConnectionRow[];
    // Which fields changed, never the secret's value.
    return { value: view(updated), record: { type: 'connection.updated', subject: id, data: { changed: Object.keys(data) } } };
  }).finally(() => forgetConnections(ctx.db));
}

export async function deleteConnection(ctx: ServiceContext, id: string): Promise<void> {
  await commitChange(ctx, async (trx) => {
    const deleted = await trx('connections').where('id', id).delete();
    if (!deleted) throw new NotFoundError(`No connection ${id}`);
    // The users it linked keep their accounts; only the links go (with the rows, by cascade).
    return { value: undefined, record: { type: 'connection.deleted', subject: id, data: { id } } };
  }).finally(() => forgetConnections(ctx.db));
}

export async function getConnection(db: Db, id: string): Promise<Connection> {
  const row = await findRow(db, id);
  if (!row) throw new NotFoundError(`No connection ${id}`);
  return view(row);
}

export async function listConnections(db: Db): Promise<Connection[]> {
  return (await db<ConnectionRow>('connections').orderBy('id')).map(view);
}

/** A connection with its secret opened, for a sign-in through it; undefined when missing or disabled. */
export async function connectionForSignIn(
  db: Db,
  box: SecretBox,
  id: string,
): Promise<(Connection & { clientSecret?: string }) | undefined> {
  const row = await findRow(db, id);
  if (!row?.enabled) return undefined;
  return { ...view(row), clientSecret: row.secret ? box.open(row.secret, secretContext(id)) : undefined };
}

// Every sign-in screen, every password post (home-realm discovery) and every prompt check of
// the identity_link prompt asks which connections there are: the enabled ones are kept for a few
// seconds (db/readCache.ts). A change forgets them once it has committed; one made inside a
// caller's transaction (If-Match, import) or by another instance is seen within the cache's TTL.
const ENABLED = 'enabled';
const enabledConnections = async (db: Db): Promise<ConnectionRow[]> =>
  (await readCache<ConnectionRow[]>(db, 'connections').get(ENABLED, () =>
    db<ConnectionRow>('connections').where('enabled', true).orderBy('display_name'),
  )) ?? [];
const forgetConnections = (db: Db) => readCache(db, 'connections').clear();

/** Whether any connection is enabled: without one, no federated sign-in can be under way. */
export const anyConnections = async (db: Db): Promise<boolean> => (await enabledConnections(db)).length > 0;

/** The enabled connections offered to a client's sign-in screen. */
export async function connectionsOffered(db: Db, clientId: string): Promise<Connection[]> {
  const rows = await enabledConnections(db);
  return rows.filter((row) => row.client_ids === null || row.client_ids.includes(clientId)).map(view);
}

/** The enabled connection offered to this client whose home-realm domains include `domain`. */
export async function connectionForDomain(db: Db, domain: string, clientId: string): Promise<Connection | undefined> {
  const wanted = domain.toLowerCase();
  const rows = (await enabledConnections(db)).filter((row) => row.domains.includes(wanted));
  const offered = rows.filter((row) => row.client_ids === null || row.client_ids.includes(clientId));
  return offered.length ? view(offered[0]) : undefined;
}

// Changes made only if the connection is still the version the caller last read (the admin API's
// If-Match): the row is locked first, so a concurrent change either committed before the check
// (and the check sees it) or waits until this one commits; the change itself then runs inside
// that transaction and writes its event and audit record as usual.
async function lockConnection(trx: Db, id: string, check: VersionCheck): Promise<void> {
  await trx('connections').where('id', id).forUpdate().first('id');
  assertVersion(check.ifMatch, await getConnection(trx, id));
}

export async function updateConnectionAtVersion(
  ctx: ServiceContext,
  box: SecretBox,
  id: string,
  input: unknown,
  check: VersionCheck = {},
): Promise<Connection> {
  return ctx.db.transaction(async (trx) => {
    await lockConnection(trx, id, check);
    return updateConnection({ ...ctx, db: trx }, box, id, input);
  });
}

export async function deleteConnectionAtVersion(ctx: ServiceContext, id: string, check: VersionCheck = {}): Promise<void> {
  await ctx.db.transaction(async (trx) => {
    await lockConnection(trx, id, check);
    await deleteConnection({ ...ctx, db: trx }, id);
  });
}
