// Passkeys (WebAuthn credentials): the options a browser needs to create or use one, the
// verification of what it sends back, and a user's list of them. No HTTP: the caller (a sign-in
// method, the account area) keeps the challenge these options carry on its own flow, uses it
// once, and hands it back here to be checked.
//
// SimpleWebAuthn does the cryptography. What is ours: the shape and size of what a browser sent
// (checked before anything is decoded), which refusal a person sees, whose passkey it is, and the
// sign counter. The library judges the counter before it checks the signature; we judge it
// after, so only a genuinely signed response is taken as a sign of a cloned authenticator.
//
// Replays: the single-use challenge is the caller's guard. Ours is the counter: a use is stored
// with one update conditional on the counter read, so of N copies of one signed response racing
// each other exactly one wins. Authenticators that always report 0 (most synced passkeys) give
// no counter to race on; for them the challenge alone stops a replay.
//
// Events and audit records name a passkey by its id under `credential`: a key named `passkey`
// would be blanked in the log, which takes any field with "pass" in its name for a password.
import { randomUUID } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type CredentialDeviceType,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { z } from 'zod';
import { audit } from '../audit/index.ts';
import { type ChangeRecord, commitChange, type ServiceContext } from '../changes/index.ts';
import type { Db } from '../db/index.ts';
import { isForeignKeyViolation, isUniqueViolation } from '../db/constraints.ts';
import { DomainError, type DomainErrorKind, fieldProblems, InvalidInputError, NotFoundError } from '../errors/index.ts';
import { logger } from '../http/logger.ts';
import type { RelyingParty } from './relyingParty.ts';

export interface Passkey {
  id: string;
  userId: string;
  /** base64url, as the authenticator gave it. */
  credentialId: string;
  name: string;
  /** multiDevice: synced between a person's devices (a password manager); singleDevice: bound to one. */
  deviceType: CredentialDeviceType;
  backedUp: boolean;
  transports: string[];
  /** The authenticator model's id; null when it did not say (all zeros). */
  aaguid: string | null;
  counter: number;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** Whether the authenticator must verify the person (PIN, biometrics) or only may. */
export type UserVerification = 'required' | 'preferred';

/** What a verified passkey proved, for the verification record of a sign-in. */
export interface PasskeyAssertion {
  userId: string;
  passkeyId: string;
  credentialId: string;
  /** RFC 8176: hwk (bound to one device) or swk (synced), and user when the authenticator verified the person. */
  amr: string[];
  userVerified: boolean;
}

// ---- Refusals ----

export type PasskeyRefusal =
  | 'challenge'
  | 'origin'
  | 'rp_id'
  | 'user_presence'
  | 'user_verification'
  | 'algorithm'
  | 'signature'
  | 'unverifiable'
  | 'unknown_credential'
  | 'other_user'
  | 'user_handle'
  | 'already_registered'
  | 'replayed'
  | 'counter';

const REFUSALS: Record<PasskeyRefusal, { kind: DomainErrorKind; message: string }> = {
  challenge: { kind: 'invalid_input', message: 'This passkey request has expired or was already used' },
  origin: { kind: 'invalid_input', message: 'This passkey was used on a page that may not sign in here' },
  rp_id: { kind: 'invalid_input', message: 'This passkey is for another website' },
  user_presence: { kind: 'invalid_input', message: 'Your authenticator did not confirm that you were there' },
  user_verification: {
    kind: 'invalid_input',
    message: 'Your authenticator did not verify that it is you (with a PIN, fingerprint or face), which is required here',
  },
  algorithm: { kind: 'invalid_input', message: 'This passkey uses a kind of key that is not supported here' },
  signature: { kind: 'invalid_input', message: "This passkey's signature is not valid" },
  unverifiable: { kind: 'invalid_input', message: 'This passkey response could not be verified' },
  unknown_credential: { kind: 'not_found', message: 'This passkey is not registered here' },
  other_user: { kind: 'forbidden', message: 'This passkey belongs to another account' },
  user_handle: { kind: 'forbidden', message: 'This passkey does not belong to the account it names' },
  already_registered: { kind: 'conflict', message: 'This passkey is already registered' },
  replayed: { kind: 'invalid_input', message: 'This passkey response was already used' },
  counter: {
    kind: 'forbidden',
    message: "This passkey's use counter went backwards, a sign that it may have been copied, so it was refused",
  },
};

/** A passkey ceremony refused; `reason` lets a screen decide (start a new ceremony on `challenge`). */
export class PasskeyRefusedError extends DomainError {
  readonly kind: DomainErrorKind;
  readonly reason: PasskeyRefusal;
  constructor(reason: PasskeyRefusal) {
    super(REFUSALS[reason].message);
    this.name = 'PasskeyRefusedError';
    this.kind = REFUSALS[reason].kind;
    this.reason = reason;
  }
}

// SimpleWebAuthn throws plain Errors; their messages are its API. Anchored at the start, so an
// origin or challenge the browser reported (quoted later in the message) cannot pick the reason.
const LIBRARY_REFUSALS: [RegExp, PasskeyRefusal][] = [
  [/^(Unexpected (registration|authentication) response challenge |Custom challenge verifier returned false)/, 'challenge'],
  [
    /^(Unexpected (registration|authentication) response origin |Unexpected (cross-origin authentication response )?top origin|Detected cross-origin)/,
    'origin',
  ],
  [/^Unexpected RP ID hash/, 'rp_id'],
  [/^User verification (was )?required/, 'user_verification'],
  [/^User (presence was required|not present)/, 'user_presence'],
  [/^(Unexpected public key alg|Credential public key was missing numeric alg)/, 'algorithm'],
];

function libraryRefusal(error: unknown): PasskeyRefusedError {
  const message = error instanceof Error ? error.message : String(error);
  const reason = LIBRARY_REFUSALS.find(([pattern]) => pattern.test(message))?.[1] ?? 'unverifiable';
  // The person sees only the reason's message; what the library said stays in the log.
  if (reason === 'unverifiable') logger.warn('passkey response not verifiable', { detail: message });
  return new PasskeyRefusedError(reason);
}

/** Runs a SimpleWebAuthn verification, turning whatever it throws into a refusal. */
async function verifiedBy<T>(verification: () => Promise<T>): Promise<T> {
  try {
    return await verification();
  } catch (error) {
    throw libraryRefusal(error);
  }
}

// ---- What a browser sends ----

/** Each encoded part of a response: real ones are a few hundred bytes, attestation certificates a few KiB. */
const MAX_PART_BYTES = 16 * 1024;
/** WebAuthn's own limit for a credential id. */
const MAX_CREDENTIAL_ID_BYTES = 1023;
const MAX_USER_HANDLE_BYTES = 64;
const MAX_EXTENSIONS_CHARS = 4 * 1024;
/** A response sent as one JSON string (a form field): its parts and some room for the rest. */
const MAX_RESPONSE_CHARS = 3 * Math.ceil((MAX_PART_BYTES * 4) / 3) + 8 * 1024;

const base64url = (maxBytes: number, limit: string) =>
  z
    .string({ message: 'must be a base64url string' })
    .regex(/^[A-Za-z0-9_-]*$/, 'must be base64url')
    .max(Math.ceil((maxBytes * 4) / 3), `is over ${limit}`);

const part = base64url(MAX_PART_BYTES, '16 KiB').min(1, 'is empty');
const credentialId = base64url(MAX_CREDENTIAL_ID_BYTES, '1023 bytes').min(1, 'is empty');
const credentialType = z.literal('public-key', { message: 'must be "public-key"' });
const attachment = z.enum(['platform', 'cross-platform'], { message: 'must be platform or cross-platform' }).optional();
const extensionResults = z
  .record(z.string(), z.unknown(), { message: 'must be an object' })
  .default({})
  .refine((results) => JSON.stringify(results).length <= MAX_EXTENSIONS_CHARS, { message: 'is over 4 KiB' });

const registrationResponseSchema = z.object({
  id: credentialId,
  rawId: credentialId,
  type: credentialType,
  response: z.object(
    {
      clientDataJSON: part,
      attestationObject: part,
      transports: z.array(z.string().max(32), { message: 'must be a list of transports' }).max(16).optional(),
    },
    { message: 'must be an object' },
  ),
  authenticatorAttachment: attachment,
  clientExtensionResults: extensionResults,
});

const authenticationResponseSchema = z.object({
  id: credentialId,
  rawId: credentialId,
  type: credentialType,
  response: z.object(
    {
      clientDataJSON: part,
      authenticatorData: part,
      signature: part,
      userHandle: base64url(MAX_USER_HANDLE_BYTES, '64 bytes').nullish(),
    },
    { message: 'must be an object' },
  ),
  authenticatorAttachment: attachment,
  clientExtensionResults: extensionResults,
});

/**
 * The response, whether the caller parsed it (a JSON body) or not (a form field holding JSON),
 * checked for shape and size before any of it is decoded.
 */
function readResponse<T>(schema: z.ZodType<unknown>, response: unknown): T {
  let value = response;
  if (typeof response === 'string') {
    if (response.length > MAX_RESPONSE_CHARS) throw new InvalidInputError('This passkey response is too large');
    try {
      value = JSON.parse(response);
    } catch {
      throw new InvalidInputError('This passkey response is not valid JSON');
    }
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data as T;
  const tooLarge = parsed.error.issues.some((issue) => issue.code === 'too_big');
  throw new InvalidInputError(
    tooLarge ? 'This passkey response is too large' : 'This passkey response is not valid',
    fieldProblems(parsed.error),
  );
}

// ---- Names ----

const NAME_MESSAGE = 'A passkey name must be 1 to 64 characters';

/** A name a person gave: trimmed, 1–64 characters, no control characters. */
export function readPasskeyName(input: unknown): string {
  const name = typeof input === 'string' ? input.trim() : '';
  const length = [...name].length;
  if (length < 1 || length > 64) throw new InvalidInputError(NAME_MESSAGE, [{ path: 'name', message: NAME_MESSAGE }]);
  if (/\p{Cc}/u.test(name)) {
    const message = 'A passkey name cannot contain control characters';
    throw new InvalidInputError(message, [{ path: 'name', message }]);
  }
  return name;
}

// The providers people meet most (github.com/passkeydeveloper/passkey-authenticator-aaguids), so
// a new passkey is named after where it lives; the person can rename it.
const PROVIDERS: Record<string, string> = {
  'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4': 'Google Password Manager',
  'adce0002-35bc-c60a-648b-0b25f1f05503': 'Chrome on Mac',
  'fbfc3007-154e-4ecc-8c0b-6e020557d7bd': 'iCloud Keychain',
  'dd4ec289-e01d-41c9-bb89-70fa845d4bf2': 'iCloud Keychain (Managed)',
  '08987058-cadc-4b81-b6e1-30de50dcbe96': 'Windows Hello',
  '9ddd1817-af5a-4672-a2b9-3e3dd95000a9': 'Windows Hello',
  '6028b017-b1d4-4c02-b4b3-afcdafc96bb2': 'Windows Hello',
  '771b48fd-d3d4-4f74-9232-fc157ab0507a': 'Edge on Mac',
  'bada5566-a7aa-401f-bd96-45619a55120d': '1Password',
  'd548826e-79b4-db40-a3d8-11116f7e8349': 'Bitwarden',
  'b84e4048-15dc-4dd0-8640-f4f60813c8af': 'NordPass',
};

const ZERO_AAGUID = '00000000-0000-0000-0000-000000000000';

export const defaultPasskeyName = (aaguid: string | null, now = new Date()) =>
  (aaguid && PROVIDERS[aaguid]) || `Passkey (${now.toISOString().slice(0, 10)})`;

// ---- Options ----

/** ES256 first: every authenticator has it. EdDSA and RS256 for the few that prefer them. */
const ALGORITHMS = [-7, -8, -257];
/** Long enough to find an authenticator; the caller's challenge should not outlive it. */
export const PASSKEY_CEREMONY_TIMEOUT_MS = 5 * 60 * 1000;

const descriptors = (passkeys: readonly Pick<Passkey, 'credentialId' | 'transports'>[]) =>
  passkeys.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports }));

/** The user handle a passkey keeps: the bytes of the user's id (never their email). */
const userHandleOf = (userId: string) => new TextEncoder().encode(userId);

/**
 * Options for creating a discoverable passkey, and their challenge (the caller keeps it, once).
 * The user's existing passkeys are excluded, so an authenticator that holds one says so.
 */
export async function passkeyRegistrationOptions(
  rp: RelyingParty,
  user: { id: string; email: string; name?: string },
  existing: readonly Pick<Passkey, 'credentialId' | 'transports'>[],
  options: { userVerification?: UserVerification } = {},
): Promise<{ options: PublicKeyCredentialCreationOptionsJSON; challenge: string }> {
  const created = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.email,
    userDisplayName: user.name || user.email,
    userID: userHandleOf(user.id),
    timeout: PASSKEY_CEREMONY_TIMEOUT_MS,
    attestationType: 'none',
    excludeCredentials: descriptors(existing),
    authenticatorSelection: { residentKey: 'required', userVerification: options.userVerification ?? 'required' },
    supportedAlgorithmIDs: ALGORITHMS,
  });
  return { options: created, challenge: created.challenge };
}

/**
 * Options for using a passkey: without `allowCredentials` any passkey for this site ("Sign in
 * with a passkey", the person is found from it); with them, one of that user's (a second factor).
 */
export async function passkeyAuthenticationOptions(
  rp: RelyingParty,
  options: { allowCredentials?: readonly Pick<Passkey, 'credentialId' | 'transports'>[]; userVerification?: UserVerification } = {},
): Promise<{ options: PublicKeyCredentialRequestOptionsJSON; challenge: string }> {
  const created = await generateAuthenticationOptions({
    rpID: rp.id,
    allowCredentials: options.allowCredentials ? descriptors(options.allowCredentials) : undefined,
    timeout: PASSKEY_CEREMONY_TIMEOUT_MS,
    userVerification: options.userVerification ?? 'required',
  });
  return { options: created, challenge: created.challenge };
}

// ---- Rows ----

interface PasskeyRow {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: Uint8Array;
  counter: number | string;
  transports: string[];
  device_type: CredentialDeviceType;
  backed_up: boolean;
  aaguid: string | null;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

const fromRow = (row: PasskeyRow): Passkey => ({
  id: row.id,
  userId: row.user_id,
  credentialId: row.credential_id,
  name: row.name,
  deviceType: row.device_type,
  backedUp: row.backed_up,
  transports: row.transports ?? [],
  aaguid: row.aaguid,
  counter: Number(row.counter),
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

const LISTED = [
  'id',
  'user_id',
  'credential_id',
  'counter',
  'transports',
  'device_type',
  'backed_up',
  'aaguid',
  'name',
  'created_at',
  'last_used_at',
];

// What browsers may report; anything else is dropped rather than handed back to them later.
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

// ---- Registration ----

/** A new passkey whose registration response verified: what will be stored. */
export interface NewPasskey {
  credentialId: string;
  publicKey: Buffer;
  counter: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  aaguid: string | null;
  name: string;
}

/**
 * Verifies a registration response against the challenge the caller kept, storing nothing. The
 * response is checked for shape and size first.
 */
export async function verifyNewPasskey(
  rp: RelyingParty,
  response: unknown,
  expectedChallenge: string | null | undefined,
  options: { name?: unknown; userVerification?: UserVerification } = {},
): Promise<NewPasskey> {
  const name = options.name === undefined ? undefined : readPasskeyName(options.name);
  const registration = readResponse<RegistrationResponseJSON>(registrationResponseSchema, response);
  if (!expectedChallenge) throw new PasskeyRefusedError('challenge');
  const verdict = await verifiedBy(() =>
    verifyRegistrationResponse({
      response: registration,
      expectedChallenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      requireUserVerification: (options.userVerification ?? 'required') === 'required',
      supportedAlgorithmIDs: ALGORITHMS,
    }),
  );
  if (!verdict.verified) throw new PasskeyRefusedError('unverifiable');
  const info = verdict.registrationInfo;
  const aaguid = info.aaguid === ZERO_AAGUID ? null : info.aaguid;
  return {
    credentialId: info.credential.id,
    publicKey: Buffer.from(info.credential.publicKey),
    counter: info.credential.counter,
    transports: (info.credential.transports ?? []).filter((transport) => TRANSPORTS.has(transport)),
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    aaguid,
    name: name ?? defaultPasskeyName(aaguid),
  };
}

/**
 * Stores a verified passkey for the user in the caller's transaction, with the record of the
 * change for the caller to commit; a credential registered before (to anyone) is refused.
 */
export async function insertPasskey(trx: Db, userId: string, passkey: NewPasskey): Promise<{ passkey: Passkey; record: ChangeRecord }> {
  const [stored] = (await trx('passkeys')
    .insert({
      id: randomUUID(),
      user_id: userId,
      credential_id: passkey.credentialId,
      public_key: passkey.publicKey,
      counter: passkey.counter,
      transports: JSON.stringify(passkey.transports),
      device_type: passkey.deviceType,
      backed_up: passkey.backedUp,
      aaguid: passkey.aaguid,
      name: passkey.name,
    })
    .returning(LISTED)
    .catch((error) => refuseInsert(error, userId))) as PasskeyRow[];
  const added = fromRow(stored);
  const data = { credential: added.id, name: added.name, device_type: added.deviceType, backed_up: added.backedUp, aaguid: added.aaguid };
  return { passkey: added, record: { type: 'user.passkey_added', subject: userId, userId, data } };
}

/** Verifies a new passkey against the challenge the caller kept and stores it for the user. */
export async function registerPasskey(
  ctx: ServiceContext,
  rp: RelyingParty,
  userId: string,
  response: unknown,
  expectedChallenge: string | null | undefined,
  options: { name?: unknown; userVerification?: UserVerification } = {},
): Promise<Passkey> {
  const verified = await verifyNewPasskey(rp, response, expectedChallenge, options);
  return commitChange(ctx, async (trx) => {
    const { passkey, record } = await insertPasskey(trx, userId, verified);
    return { value: passkey, record };
  });
}

function refuseInsert(error: unknown, userId: string): never {
  if (isUniqueViolation(error)) throw new PasskeyRefusedError('already_registered');
  if (isForeignKeyViolation(error)) throw new NotFoundError(`No user ${userId}`);
  throw error;
}

// ---- Sign-in ----

/** Who a refused attempt concerns, as far as known, for its audit record. */
interface Attempt {
  userId?: string;
  passkeyId?: string;
}

/**
 * Verifies a passkey's response against the challenge the caller kept. Without `userId` the
 * person is whoever owns the passkey (discoverable sign-in); with it, the passkey must be theirs
 * (a second factor). Every refusal where an account is known is audited, with its reason only.
 */
export async function verifyPasskeyAssertion(
  ctx: ServiceContext,
  rp: RelyingParty,
  response: unknown,
  expectedChallenge: string | null | undefined,
  options: { userId?: string; userVerification?: UserVerification } = {},
): Promise<PasskeyAssertion> {
  const attempt: Attempt = { userId: options.userId };
  try {
    return await verifyAssertion(ctx, rp, response, expectedChallenge, options, attempt);
  } catch (error) {
    if (attempt.userId && error instanceof DomainError) await auditRefusal(ctx, attempt, error);
    throw error;
  }
}

async function verifyAssertion(
  ctx: ServiceContext,
  rp: RelyingParty,
  response: unknown,
  expectedChallenge: string | null | undefined,
  options: { userId?: string; userVerification?: UserVerification },
  attempt: Attempt,
): Promise<PasskeyAssertion> {
  const assertion = readResponse<AuthenticationResponseJSON>(authenticationResponseSchema, response);
  const stored = await ctx.db<PasskeyRow>('passkeys').where('credential_id', assertion.id).first();
  if (!stored) throw new PasskeyRefusedError('unknown_credential');
  attempt.userId ??= stored.user_id;
  attempt.passkeyId = stored.id;
  if (!expectedChallenge) throw new PasskeyRefusedError('challenge');
  const { verified, authenticationInfo: info } = await verifiedBy(() =>
    verifyAuthenticationResponse({
      response: assertion,
      expectedChallenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      // Counter 0: the library's counter check would run before the signature's; ours runs after.
      credential: { id: stored.credential_id, publicKey: new Uint8Array(stored.public_key), counter: 0 },
      requireUserVerification: (options.userVerification ?? 'required') === 'required',
    }),
  );
  if (!verified) throw new PasskeyRefusedError('signature');
  if (options.userId && stored.user_id !== options.userId) throw new PasskeyRefusedError('other_user');
  const handle = assertion.response.userHandle;
  if (handle && isoBase64URL.toUTF8String(handle) !== stored.user_id) throw new PasskeyRefusedError('user_handle');
  const storedCounter = Number(stored.counter);
  const counterRefusal = judgeCounter(storedCounter, info.newCounter);
  if (counterRefusal) throw new PasskeyRefusedError(counterRefusal);
  const amr = [info.credentialDeviceType === 'multiDevice' ? 'swk' : 'hwk', ...(info.userVerified ? ['user'] : [])];
  const used = await recordUse(ctx, stored, {
    // A 0 after a count (a reset, or an authenticator that stopped counting) keeps the highest
    // count seen, so a copy that still counts is caught later.
    counter: Math.max(storedCounter, info.newCounter),
    backedUp: info.credentialBackedUp,
    amr,
  });
  if (!used) throw new PasskeyRefusedError('replayed');
  return { userId: stored.user_id, passkeyId: stored.id, credentialId: stored.credential_id, amr, userVerified: info.userVerified };
}

/**
 * The sign counter, when both sides count: the same count again is this response once more (or
 * its twin racing it); a lower one means another authenticator holds the same key.
 */
function judgeCounter(stored: number, received: number): 'replayed' | 'counter' | undefined {
  if (stored === 0 || received === 0) return undefined;
  if (received === stored) return 'replayed';
  if (received < stored) return 'counter';
  return undefined;
}

/** Stores a use, only if nobody stored one since we read the counter; false if someone did. */
async function recordUse(
  ctx: ServiceContext,
  stored: PasskeyRow,
  use: { counter: number; backedUp: boolean; amr: string[] },
): Promise<boolean> {
  return ctx.db.transaction(async (trx) => {
    const updated = await trx('passkeys')
      .where({ id: stored.id, counter: stored.counter })
      .update({ counter: use.counter, backed_up: use.backedUp, last_used_at: trx.fn.now() });
    if (!updated) return false;
    await audit(trx, {
      type: 'mfa.passkey_verified',
      userId: stored.user_id,
      ip: ctx.ip,
      requestId: ctx.requestId,
      details: { credential: stored.id, amr: use.amr, actor: ctx.actor },
    });
    return true;
  });
}

function auditRefusal(ctx: ServiceContext, attempt: Attempt, error: DomainError): Promise<void> {
  const reason = error instanceof PasskeyRefusedError ? error.reason : 'malformed';
  return audit(ctx.db, {
    type: reason === 'counter' ? 'mfa.passkey_clone_suspected' : 'mfa.passkey_failed',
    userId: attempt.userId,
    ip: ctx.ip,
    requestId: ctx.requestId,
    details: { reason, ...(attempt.passkeyId ? { credential: attempt.passkeyId } : {}), actor: ctx.actor },
  });
}

// ---- A user's passkeys ----

export async function listPasskeys(db: Db, userId: string): Promise<Passkey[]> {
  const rows = (await db('passkeys')
    .where('user_id', userId)
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .select(LISTED)) as PasskeyRow[];
  return rows.map(fromRow);
}

export async function countPasskeys(db: Db, userId: string): Promise<number> {
  const row = await db('passkeys').where('user_id', userId).count({ count: '*' }).first();
  return Number(row?.count ?? 0);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Not a uuid is not found either: the database would otherwise refuse the query itself. */
function assertPasskeyId(userId: string, passkeyId: string): void {
  if (!UUID.test(passkeyId)) throw new NotFoundError(`User ${userId} has no passkey ${passkeyId}`);
}

export async function renamePasskey(ctx: ServiceContext, userId: string, passkeyId: string, name: unknown): Promise<Passkey> {
  const newName = readPasskeyName(name);
  assertPasskeyId(userId, passkeyId);
  return commitChange(ctx, async (trx) => {
    const [row] = (await trx('passkeys')
      .where({ id: passkeyId, user_id: userId })
      .update({ name: newName })
      .returning(LISTED)) as PasskeyRow[];
    if (!row) throw new NotFoundError(`User ${userId} has no passkey ${passkeyId}`);
    return {
      value: fromRow(row),
      record: { type: 'user.passkey_renamed', subject: userId, userId, data: { credential: passkeyId, name: newName } },
    };
  });
}

/** Removes one of the user's passkeys; another user's is not found. */
export async function removePasskey(ctx: ServiceContext, userId: string, passkeyId: string): Promise<void> {
  assertPasskeyId(userId, passkeyId);
  await commitChange(ctx, async (trx) => {
    const [row] = (await trx('passkeys').where({ id: passkeyId, user_id: userId }).delete().returning(['id', 'name'])) as PasskeyRow[];
    if (!row) throw new NotFoundError(`User ${userId} has no passkey ${passkeyId}`);
    return {
      value: undefined,
      record: { type: 'user.passkey_removed', subject: userId, userId, data: { credential: passkeyId, name: row.name } },
    };
  });
}
