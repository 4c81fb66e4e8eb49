// The service's input from the flags of `connections create` and `update`: the fields every
// connection has, the settings of its type (only those given: an update keeps the others, and
// the service alone says what each type and preset requires) and its secret.
import type { Values } from '../../command.ts';
import { list, str } from '../../command.ts';
import { CommandError } from '../../context.ts';
import { NAME_ID_FORMATS } from '../../../federation/index.ts';
import { type FlagKind, refuseTogether, TYPED_FLAGS } from './flags.ts';
import type { Gathered } from './handedOver.ts';

/** A new connection: what the flags say, with create's defaults for the switches. */
export function newConnectionOf(values: Values, gathered: Gathered): Record<string, unknown> {
  const type = str(values.type);
  return {
    id: str(values.id),
    type,
    ...fieldsOf(values),
    settings: settingsOf(values, gathered),
    jit: !values['no-jit'],
    enabled: !values.disabled,
    ...secretOf(values, gathered, secretField(type)),
  };
}

/** An update's input: only what the flags change. */
export function changesOf(values: Values, type: string, gathered: Gathered): Record<string, unknown> {
  refuseTogether(values, 'client', 'all-clients');
  refuseTogether(values, 'domain', 'no-domains');
  refuseTogether(values, 'map', 'no-map');
  const settings = { ...settingsOf(values, gathered), ...unsetSettings(values) };
  const enabled = toggle(values, 'enable', 'disable');
  const jit = toggle(values, 'jit', 'no-jit');
  return {
    ...fieldsOf(values),
    ...(Object.keys(settings).length && { settings }),
    ...(enabled !== undefined && { enabled }),
    ...(jit !== undefined && { jit }),
    ...(values['all-clients'] && { clients: null }),
    ...(values['no-domains'] && { domains: [] }),
    ...(values['no-map'] && { mapping: {} }),
    ...secretOf(values, gathered, secretField(type)),
    ...(values['no-client-secret'] && { client_secret: null }),
    ...(values['no-sp-key'] && { sp_private_key: null }),
  };
}

/** The connection fields the shared flags name (only those given), validated by the service. */
function fieldsOf(values: Values): Record<string, unknown> {
  const clients = list(values.client);
  const domains = list(values.domain);
  const mapping = mappingOf(values);
  return {
    ...(values.name !== undefined && { display_name: str(values.name) }),
    ...(clients.length && { clients }),
    ...(domains.length && { domains }),
    ...(values.linking !== undefined && { linking: str(values.linking) }),
    ...(values['claims-update'] !== undefined && { claims_update: str(values['claims-update']) }),
    ...(mapping && { mapping }),
  };
}

/** --unset NAME: the settings to remove (null, which the service reads as "remove"). */
function unsetSettings(values: Values): Record<string, null> {
  const names = list(values.unset);
  for (const name of names)
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new CommandError(`--unset ${name}: give a setting's name, such as allowed_tenants`);
  const alsoSet = Object.entries(TYPED_FLAGS).find(
    ([flag, { setting }]) => setting && names.includes(setting) && values[flag] !== undefined,
  );
  if (alsoSet) throw new CommandError(`--${alsoSet[0]} and --unset ${alsoSet[1].setting} cannot be combined`);
  return Object.fromEntries(names.map((name) => [name, null]));
}

/** The settings the type's flags name (only those given). */
function settingsOf(values: Values, gathered: Gathered): Record<string, unknown> {
  // The metadata fills these three: given beside it, they would be overwritten unseen.
  for (const flag of ['idp-entity-id', 'sso-url', 'idp-certificate-file']) refuseTogether(values, 'idp-metadata', flag);
  const settings: Record<string, unknown> = {};
  for (const [flag, { kind, setting }] of Object.entries(TYPED_FLAGS)) {
    if (kind === 'off') refuseTogether(values, flag.replace(/^no-/, ''), flag);
    if (setting && values[flag] !== undefined) settings[setting] = settingValue(flag, kind, values[flag], gathered.texts[flag]);
  }
  return settings;
}

function settingValue(flag: string, kind: FlagKind, given: Values[string], texts: string[] = []): unknown {
  switch (kind) {
    case 'list':
      return list(given);
    case 'on':
      return true;
    case 'off':
      return false;
    case 'seconds':
      return seconds(flag, str(given));
    case 'name-id-format':
      return nameIdFormat(str(given) ?? '');
    case 'file':
    case 'document':
      return texts[0];
    case 'files':
      return texts;
    default:
      return str(given);
  }
}

function seconds(flag: string, given: string | undefined): number {
  if (!given || !/^\d{1,6}$/.test(given)) throw new CommandError(`--${flag} must be a whole number of seconds, such as 60`);
  return Number(given);
}

/** A NameID format's URN, also from its last word (persistent, emailAddress, unspecified); the service checks it. */
const nameIdFormat = (given: string): string => NAME_ID_FORMATS.find((urn) => urn.endsWith(`:${given}`)) ?? given;

/** A SAML connection's secret is our private key; the others' the upstream client secret. */
const secretField = (type: string | undefined) => (type === 'saml' ? 'sp_private_key' : 'client_secret');

/**
 * The secret the flags give, as `field`: from standard input or a file (a trailing newline is not
 * part of it; a key file is taken whole) or, less safely, the command line. None given: nothing.
 */
function secretOf(values: Values, gathered: Gathered, field: string): Record<string, string> {
  refuseTogether(values, 'client-secret', 'client-secret-stdin', 'client-secret-file', 'no-client-secret');
  refuseTogether(values, 'sp-key-file', 'no-sp-key');
  let secret = str(values['client-secret']);
  if (values['client-secret-stdin']) {
    secret = (gathered.stdin ?? '').replace(/\r?\n$/, '');
    if (!secret) throw new CommandError('--client-secret-stdin: standard input held no secret');
  }
  if (values['client-secret-file']) secret = gathered.texts['client-secret-file'][0].replace(/\r?\n$/, '');
  if (values['sp-key-file']) secret = gathered.texts['sp-key-file'][0];
  return secret === undefined ? {} : { [field]: secret };
}

/** --map given_name=first_name … as a mapping; undefined when none was given. */
function mappingOf(values: Values): Record<string, string> | undefined {
  const pairs = list(values.map);
  if (!pairs.length) return undefined;
  const mapping: Record<string, string> = {};
  for (const pair of pairs) {
    const [attribute, claim] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
    if (!pair.includes('=') || !attribute || !claim)
      throw new CommandError(`--map ${pair}: write attribute=claim, such as given_name=given_name`);
    if (attribute in mapping) throw new CommandError(`--map ${attribute} is given more than once`);
    mapping[attribute] = claim;
  }
  return mapping;
}

/** Flags that set a field to one of two values (--enable/--disable); undefined: neither given. */
function toggle(values: Values, on: string, off: string): boolean | undefined {
  refuseTogether(values, on, off);
  return values[on] ? true : values[off] ? false : undefined;
}
