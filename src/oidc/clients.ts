// Clients live in their own table with real columns; this store maps rows to and from the
// client metadata oidc-provider expects. Secrets that are only ever compared are kept as
// SHA-256 digests (they are 256-bit random values, so a fast digest is enough); secrets the
// protocol needs back in plain form (client_secret_jwt, HS* algorithms, symmetric encryption)
// are encrypted with SECRET_KEY.
import { errors, type Adapter, type AdapterPayload, type ClientMetadata } from 'oidc-provider';
import { containsNul } from '../db/text.ts';
import { isForeignKeyViolation } from '../db/constraints.ts';
import { readCache } from '../db/readCache.ts';
import type { Db } from '../db/index.ts';
import { sha256, constantTimeEqual, matchesSha256, SealedSecretError, type SealContext, type SecretBox } from '../secrets/secretBox.ts';
import type { SealedColumn } from '../secrets/sealedColumns.ts';
import { logger } from '../http/logger.ts';
import { API_SCOPE, joinScope, splitScope } from './features/clientMetadata.ts';
import { findResourceServer, undefinedApiScopes } from './resourceServers.ts';

export const HASHED_SECRET_PREFIX = 'sha256:';
const SEALED_SECRET_PREFIX = 'enc:';

// A sealed secret opens only as the secret of the client it was sealed for.
const secretSealContext = (clientId: string): SealContext => ({ table: 'clients', rowId: clientId, purpose: 'client_secret' });

/** Where clients keep sealed secrets, for `secrets rotate` and the start-up check. */
export const SEALED_CLIENT_SECRETS: SealedColumn = {
  table: 'clients',
  idColumn: 'client_id',
  column: 'client_secret',
  prefix: SEALED_SECRET_PREFIX,
  context: (row) => secretSealContext(row.client_id),
};

const COLUMN_FIELDS = [
  'client_name',
  'redirect_uris',
  'post_logout_redirect_uris',
  'grant_types',
  'response_types',
  'token_endpoint_auth_method',
  'application_type',
  'scope',
  'default_resource',
  'allow_code_without_pkce',
  'allow_signup',
  'require_verified_email',
  'require_mfa',
] as const;
const JSON_COLUMNS = new Set(['redirect_uris', 'post_logout_redirect_uris', 'grant_types', 'response_types']);

export interface ClientRow {
  client_id: string;
  client_secret: string | null;
  client_name: string | null;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: string;
  application_type: string;
  scope: string | null;
  default_resource: string | null;
  allow_code_without_pkce: boolean;
  allow_signup: boolean;
  require_verified_email: boolean;
  require_mfa: boolean;
  metadata: Record<string, unknown>;
  registered_by: 'cli' | 'admin_api' | 'dynamic_registration';
  created_at: Date;
  updated_at: Date;
}

export type RegisteredBy = ClientRow['registered_by'];

/**
 * Writes take an optional transaction (a service's change); the store forgets its cached copy
 * when it writes, and the service calls forget() again once its transaction has committed.
 */
export interface ClientStore {
  adapter: Adapter;
  save(metadata: ClientMetadata, registeredBy: RegisteredBy, trx?: Db): Promise<void>;
  create(metadata: ClientMetadata, registeredBy: RegisteredBy, trx?: Db): Promise<void>;
  delete(clientId: string, trx?: Db): Promise<boolean>;
  /** Drops what this process cached about the client (and the API rows that may name it). */
  forget(clientId: string): void;
}

// Only symmetric uses of the secret need it back; everything else compares.
export function needsPlainSecret(metadata: Record<string, unknown>): boolean {
  if (metadata.token_endpoint_auth_method === 'client_secret_jwt') return true;
  return Object.entries(metadata).some(
    ([key, value]) =>
      typeof value === 'string' &&
      (((key.endsWith('_signed_response_alg') || key.endsWith('_signing_alg')) && value.startsWith('HS')) ||
        ((key.endsWith('_encrypted_response_alg') || key.endsWith('_encryption_alg')) &&
          (value === 'dir' || /^A\d+(GCM)?KW$/.test(value)))),
  );
}

function storedSecret(clientId: string, secret: string | undefined, metadata: Record<string, unknown>, box: SecretBox): string | null {
  if (!secret) return null;
  if (secret.startsWith(HASHED_SECRET_PREFIX)) {
    // Unchanged on update, unless the client now wants the plain secret, which only its digest
    // stands for: a digest must never become an HMAC key (a database dump would then forge).
    if (needsPlainSecret(metadata))
      throw new errors.InvalidClientMetadata(
        'this client cannot switch to a symmetric use of its secret (client_secret_jwt, HS* or symmetric encryption); register a new client',
      );
    return secret;
  }
  return needsPlainSecret(metadata)
    ? SEALED_SECRET_PREFIX + box.seal(secret, secretSealContext(clientId))
    : HASHED_SECRET_PREFIX + sha256(secret);
}

function exposedSecret(clientId: string, stored: string | null, box: SecretBox): string | undefined {
  if (!stored) return undefined;
  if (stored.startsWith(SEALED_SECRET_PREFIX)) return box.open(stored.slice(SEALED_SECRET_PREFIX.length), secretSealContext(clientId));
  return stored;
}

/** True when `presented` is the client's secret, whichever way it is stored. */
export function matchesClientSecret(stored: string | undefined, presented: string): boolean {
  if (!stored) return false;
  if (stored.startsWith(HASHED_SECRET_PREFIX)) {
    return matchesSha256(stored.slice(HASHED_SECRET_PREFIX.length), presented);
  }
  return constantTimeEqual(stored, presented);
}

export function rowToMetadata(row: ClientRow, box: SecretBox): AdapterPayload {
  const metadata: Record<string, unknown> = { ...row.metadata, client_id: row.client_id };
  for (const field of COLUMN_FIELDS) {
    const value = row[field];
    if (value !== null && value !== undefined) metadata[field] = value;
  }
  const secret = exposedSecret(row.client_id, row.client_secret, box);
  if (secret) metadata.client_secret = secret;
  return metadata as AdapterPayload;
}

// A client whose stored secret does not open (sealed for another client, altered, or sealed with
// a key this instance lacks) cannot authenticate: it gets invalid_client, and the operator a log
// line that says why, instead of a server_error.
function openClient(row: ClientRow, box: SecretBox): AdapterPayload {
  try {
    return rowToMetadata(row, box);
  } catch (error) {
    if (!(error instanceof SealedSecretError)) throw error;
    logger.error('client secret does not open', { clientId: row.client_id, problem: error.problem, detail: error.message });
    throw new errors.InvalidClientAuth(error.message);
  }
}

/**
 * What is wrong with the APIs a client's metadata names (its default API, the API scopes in its
 * `scope`), which only the database knows; undefined when nothing is.
 */
export async function apiReferenceProblem(db: Db, metadata: ClientMetadata): Promise<string | undefined> {
  const fields = metadata as Record<string, unknown>;
  const defaultApi = fields.default_resource;
  if (typeof defaultApi === 'string' && !(await findResourceServer(db, defaultApi)))
    return `default_resource ${defaultApi} is not a registered API`;
  const apiScopes = splitScope(joinScope(fields.scope, fields[API_SCOPE])).api?.split(' ') ?? [];
  const unknown = await undefinedApiScopes(db, apiScopes);
  if (unknown.length) return `scope must only contain OpenID scopes and scopes of registered APIs; not known: ${unknown.join(' ')}`;
  return undefined;
}

export function createClientStore(db: Db, box: SecretBox): ClientStore {
  const cache = readCache<AdapterPayload>(db, 'clients');

  function toRow(metadata: ClientMetadata, registeredBy: RegisteredBy) {
    const {
      client_id,
      client_secret,
      [API_SCOPE]: apiScope,
      ...rest
    } = metadata as Record<string, unknown> & {
      client_id: string;
      client_secret?: string;
    };
    // What oidc-provider hands back holds the client's API scopes apart (see clientMetadata.ts).
    rest.scope = joinScope(rest.scope, apiScope) ?? null;
    const columns: Record<string, unknown> = {};
    const extra: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rest)) {
      if ((COLUMN_FIELDS as readonly string[]).includes(key)) {
        columns[key] = JSON_COLUMNS.has(key) ? JSON.stringify(value ?? []) : value;
      } else if (value !== undefined) {
        extra[key] = value;
      }
    }
    return {
      client_id,
      client_secret: storedSecret(client_id, client_secret, metadata as Record<string, unknown>, box),
      grant_types: JSON.stringify(['authorization_code']),
      response_types: JSON.stringify(['code']),
      token_endpoint_auth_method: 'client_secret_basic',
      // An update that leaves these out clears them (RFC 7592 §2.2: the request replaces).
      default_resource: null,
      allow_code_without_pkce: false,
      allow_signup: true,
      require_verified_email: true,
      require_mfa: false,
      ...columns,
      metadata: JSON.stringify(extra),
      registered_by: registeredBy,
      updated_at: db.fn.now(),
    };
  }

  /** Registers or (RFC 7592) updates a client; an update keeps who registered it originally. */
  async function save(metadata: ClientMetadata, registeredBy: RegisteredBy, trx: Db = db): Promise<void> {
    const row = toRow(metadata, registeredBy);
    const problem = await apiReferenceProblem(trx, metadata);
    if (problem) throw new errors.InvalidClientMetadata(problem);
    try {
      await trx('clients')
        .insert(row)
        .onConflict('client_id')
        .merge(Object.keys(row).filter((k) => k !== 'registered_by' && k !== 'client_id'));
    } catch (error) {
      // The default API was deleted since it was checked.
      if (isForeignKeyViolation(error))
        throw new errors.InvalidClientMetadata(`${String(metadata.default_resource)} is not a registered API`);
      throw error;
    }
    cache.forget(metadata.client_id);
  }

  /** Deletes a client and every artefact issued to it, in one transaction. */
  async function remove(clientId: string, outer: Db = db): Promise<boolean> {
    const deleted = await outer.transaction(async (trx): Promise<number> => {
      await trx('oidc_payloads').whereRaw("payload->>'clientId' = ?", [clientId]).delete();
      return trx('clients').where('client_id', clientId).delete();
    });
    forget(clientId);
    return deleted > 0;
  }

  function forget(clientId: string): void {
    cache.forget(clientId);
    // Its API access rows go with it (on delete cascade), and an API it was the resource
    // server of no longer names it (set null).
    readCache(db, 'api-access').clear();
    readCache(db, 'apis').clear();
  }

  const adapter: Adapter = {
    async find(id) {
      if (containsNul(id)) return undefined;
      // Every token request looks its client up; see readCache.ts for how fresh this stays.
      return cache.get(id, async () => {
        const row = await db<ClientRow>('clients').where('client_id', id).first();
        return row ? openClient(row, box) : undefined;
      });
    },
    async upsert(id, payload) {
      if (containsNul(payload)) throw new errors.InvalidClientMetadata('client metadata contains a NUL character');
      await save({ ...(payload as ClientMetadata), client_id: id }, 'dynamic_registration');
    },
    async destroy(id) {
      await remove(id);
    },
    async findByUid() {
      return undefined;
    },
    async findByUserCode() {
      return undefined;
    },
    async consume() {},
    async revokeByGrantId() {},
  };

  /** Registers a new client; never overwrites one with the same id (a unique violation says so). */
  async function create(metadata: ClientMetadata, registeredBy: RegisteredBy, trx: Db = db): Promise<void> {
    await trx('clients').insert(toRow(metadata, registeredBy));
  }

  return { adapter, save, create, delete: remove, forget };
}
