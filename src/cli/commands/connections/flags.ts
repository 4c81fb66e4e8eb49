// The flags of `connections create` and `connections update`. Some every connection has (its
// name, who is offered it, …); the others belong to one type or two and each fills one setting
// (or carries the secret). One table of those serves the parser's options, the check that
// refuses a flag given for another type, what the operator's process reads (files, a URL) and
// the settings handed to the service, which alone decides what each type requires.
import type { ParseArgsConfig } from 'node:util';
import type { CONNECTION_TYPES } from '../../../federation/index.ts';
import type { Values } from '../../command.ts';
import { CommandError } from '../../context.ts';

export type ConnectionType = (typeof CONNECTION_TYPES)[number];
type Options = NonNullable<ParseArgsConfig['options']>;

/** How a flag's value becomes what the service is given. */
export type FlagKind =
  | 'text' // --flag VALUE
  | 'list' // repeatable: --flag A --flag B
  | 'on' // a switch that sets true
  | 'off' // a switch that sets false
  | 'seconds' // a whole number of seconds
  | 'name-id-format' // a NameID format: its URN or the URN's last word (persistent, emailAddress, unspecified)
  | 'file' // the text of FILE, read where gatehouse runs
  | 'files' // repeatable FILE
  | 'document'; // FILE, or an http(s) URL fetched, where gatehouse runs

export interface TypedFlag {
  types: readonly ConnectionType[];
  kind: FlagKind;
  /** The settings field it fills; none: it carries the secret (see input.ts). */
  setting?: string;
  /** Only update has it: create's default is already what it sets. */
  updateOnly?: true;
}

const OAUTH: readonly ConnectionType[] = ['oidc', 'oauth2'];
const OIDC: readonly ConnectionType[] = ['oidc'];
const OAUTH2: readonly ConnectionType[] = ['oauth2'];
const SAML: readonly ConnectionType[] = ['saml'];

/** The flags of one type or two, by name. */
export const TYPED_FLAGS: Record<string, TypedFlag> = {
  // OpenID Connect and OAuth 2.0
  preset: { types: OAUTH, kind: 'text', setting: 'preset' },
  'client-id': { types: OAUTH, kind: 'text', setting: 'client_id' },
  scope: { types: OAUTH, kind: 'list', setting: 'scopes' },
  'auth-method': { types: OAUTH, kind: 'text', setting: 'token_endpoint_auth_method' },
  'client-secret': { types: OAUTH, kind: 'text' },
  'client-secret-stdin': { types: OAUTH, kind: 'on' },
  'client-secret-file': { types: OAUTH, kind: 'file' },
  'no-client-secret': { types: OAUTH, kind: 'on', updateOnly: true },
  // OpenID Connect
  issuer: { types: OIDC, kind: 'text', setting: 'issuer' },
  'response-mode': { types: OIDC, kind: 'text', setting: 'response_mode' },
  tenant: { types: OIDC, kind: 'text', setting: 'tenant' },
  'allowed-tenant': { types: OIDC, kind: 'list', setting: 'allowed_tenants' },
  'team-id': { types: OIDC, kind: 'text', setting: 'team_id' },
  'key-id': { types: OIDC, kind: 'text', setting: 'key_id' },
  // OAuth 2.0
  'authorization-endpoint': { types: OAUTH2, kind: 'text', setting: 'authorization_endpoint' },
  'token-endpoint': { types: OAUTH2, kind: 'text', setting: 'token_endpoint' },
  'profile-url': { types: OAUTH2, kind: 'text', setting: 'profile_url' },
  'emails-url': { types: OAUTH2, kind: 'text', setting: 'emails_url' },
  'subject-claim': { types: OAUTH2, kind: 'text', setting: 'subject_claim' },
  'email-claim': { types: OAUTH2, kind: 'text', setting: 'email_claim' },
  'email-verified-claim': { types: OAUTH2, kind: 'text', setting: 'email_verified_claim' },
  // SAML
  'idp-metadata': { types: SAML, kind: 'document', setting: 'idp_metadata_xml' },
  'idp-entity-id': { types: SAML, kind: 'text', setting: 'idp_entity_id' },
  'sso-url': { types: SAML, kind: 'text', setting: 'sso_url' },
  'slo-url': { types: SAML, kind: 'text', setting: 'slo_url' },
  'idp-certificate-file': { types: SAML, kind: 'files', setting: 'idp_certificates' },
  'name-id-format': { types: SAML, kind: 'name-id-format', setting: 'name_id_format' },
  'email-attribute': { types: SAML, kind: 'text', setting: 'email_attribute' },
  'emails-verified': { types: SAML, kind: 'on', setting: 'emails_verified' },
  'no-emails-verified': { types: SAML, kind: 'off', setting: 'emails_verified', updateOnly: true },
  'want-encrypted-assertions': { types: SAML, kind: 'on', setting: 'want_encrypted_assertions' },
  'no-want-encrypted-assertions': { types: SAML, kind: 'off', setting: 'want_encrypted_assertions', updateOnly: true },
  'sp-certificate-file': { types: SAML, kind: 'file', setting: 'sp_certificate' },
  'sp-key-file': { types: SAML, kind: 'file' },
  'no-sp-key': { types: SAML, kind: 'on', updateOnly: true },
  'clock-skew': { types: SAML, kind: 'seconds', setting: 'clock_skew_seconds' },
};

/** The kinds whose value names something read where gatehouse runs (a file, or a URL). */
export const READ_KINDS: ReadonlySet<FlagKind> = new Set(['file', 'files', 'document']);

/** The flags every connection has, on create and update alike. */
const SHARED_OPTIONS: Options = {
  name: { type: 'string' },
  client: { type: 'string', multiple: true },
  domain: { type: 'string', multiple: true },
  'no-jit': { type: 'boolean' },
  linking: { type: 'string' },
  'claims-update': { type: 'string' },
  map: { type: 'string', multiple: true },
};

function typedOptions(forUpdate: boolean): Options {
  const entries = Object.entries(TYPED_FLAGS)
    .filter(([, flag]) => forUpdate || !flag.updateOnly)
    .map(([name, { kind }]) => [
      name,
      { type: kind === 'on' || kind === 'off' ? 'boolean' : 'string', ...((kind === 'list' || kind === 'files') && { multiple: true }) },
    ]);
  return Object.fromEntries(entries) as Options;
}

export const CREATE_OPTIONS: Options = {
  ...SHARED_OPTIONS,
  ...typedOptions(false),
  id: { type: 'string' },
  type: { type: 'string' },
  disabled: { type: 'boolean' },
};

export const UPDATE_OPTIONS: Options = {
  ...SHARED_OPTIONS,
  ...typedOptions(true),
  'all-clients': { type: 'boolean' },
  'no-domains': { type: 'boolean' },
  'no-map': { type: 'boolean' },
  /** Removes an optional setting by its name (allowed_tenants, emails_url, slo_url, …): it takes its default again. */
  unset: { type: 'string', multiple: true },
  jit: { type: 'boolean' },
  enable: { type: 'boolean' },
  disable: { type: 'boolean' },
};

const SHARED_USAGE =
  '[--client CLIENT_ID ...] [--domain example.com ...] [--no-jit] [--linking verified_email_with_proof|never] [--claims-update on_sign_in|never] [--map attribute=claim ...]';
const SECRET_USAGE = '[--client-secret-stdin | --client-secret-file FILE | --client-secret S]';
const OAUTH_USAGE = `[--scope S ...] [--auth-method client_secret_basic|client_secret_post|none]`;
/** Each type's flags; on create, what every connection of the type needs is shown unbracketed. */
const typeUsage = (create: boolean) => {
  const need = (flags: string) => (create ? flags : `[${flags}]`);
  return [
    `  oidc:   [--preset generic|google|microsoft|apple] [--issuer URL] ${need('--client-id ID')} ${SECRET_USAGE} ${OAUTH_USAGE} [--response-mode query|form_post] [--tenant common|organizations|consumers|TENANT] [--allowed-tenant TENANT_ID ...] [--team-id ID --key-id ID]`,
    `  oauth2: [--preset generic|github] ${need('--client-id ID')} ${SECRET_USAGE} ${OAUTH_USAGE} [--authorization-endpoint URL] [--token-endpoint URL] [--profile-url URL] [--emails-url URL] [--subject-claim C] [--email-claim C] [--email-verified-claim C]`,
    `  saml:   ${create ? '(--idp-metadata FILE|URL | --idp-entity-id ID --sso-url URL --idp-certificate-file FILE ...)' : '[--idp-metadata FILE|URL | --idp-entity-id ID --sso-url URL --idp-certificate-file FILE ...]'} [--name-id-format persistent|emailAddress|unspecified] [--email-attribute A] [--emails-verified] [--want-encrypted-assertions] [--sp-certificate-file FILE] [--sp-key-file FILE] [--slo-url URL] [--clock-skew SECONDS]`,
  ];
};

export const CREATE_USAGE = [
  `connections create --id ID --type oidc|oauth2|saml --name NAME [options of the type] ${SHARED_USAGE} [--disabled]`,
  ...typeUsage(true),
].join('\n');

export const UPDATE_USAGE = [
  'connections update ID [--name NAME] [options of its type] [--client CLIENT_ID ... | --all-clients] [--domain example.com ... | --no-domains] [--jit | --no-jit] [--linking verified_email_with_proof|never] [--claims-update on_sign_in|never] [--map attribute=claim ... | --no-map] [--enable | --disable]',
  ...typeUsage(false),
  '  and to undo: [--unset SETTING ...] (such as allowed_tenants); oidc, oauth2 [--no-client-secret]; saml [--no-sp-key] [--no-emails-verified] [--no-want-encrypted-assertions]',
].join('\n');

export function refuseTogether(values: Values, ...flags: string[]): void {
  const given = flags.filter((flag) => values[flag] !== undefined);
  if (given.length > 1) throw new CommandError(`${given.map((f) => `--${f}`).join(' and ')} cannot be combined`);
}

/**
 * A flag of another type would be refused by the service as an unknown setting, or (a secret)
 * kept for nothing: say which type it is for. On update, `connectionId` names the connection.
 */
export function refuseOtherTypes(values: Values, type: ConnectionType, connectionId?: string): void {
  const problems = Object.keys(values)
    .filter((flag) => values[flag] !== undefined && TYPED_FLAGS[flag] && !TYPED_FLAGS[flag].types.includes(type))
    .map((flag) => `--${flag} is for --type ${TYPED_FLAGS[flag].types.join(' or ')}`);
  const context = connectionId && `${connectionId} is ${type === 'saml' ? 'a' : 'an'} ${type} connection`;
  if (problems.length === 1) throw new CommandError(context ? `${problems[0]}; ${context}` : problems[0]);
  if (problems.length)
    throw new CommandError(context ? `Options for another type: ${context}` : `Options for another type than ${type}`, problems);
}
