// What an artefact row may hold. The value of every token, code, session id and registration
// access token is a bearer credential, so a row never holds it: rows are keyed by the value's
// SHA-256 digest and looked up by digest, and so are the grant and user-code columns. A database
// dump or backup then gives nothing that works at an endpoint.
//
// Two lookups find a row by something other than its value (a Session by its uid, a DeviceCode by
// the user code someone typed), and oidc-provider needs the value back from them; an Interaction
// carries the values of the device code, the pushed request and the session it belongs to. Those
// few fields are sealed (AES-256-GCM, bound to the row and the field) instead of dropped.
import type { AdapterPayload } from 'oidc-provider';
import { SealedSecretError, sha256, type SealContext, type SecretBox } from '../secrets/secretBox.ts';
import type { Db } from '../db/index.ts';

/** The stored form of an artefact's value (and of user codes and grant ids): SHA-256, hex. */
export const artefactDigest: (value: string) => string = sha256;

// A field path inside the payload ('session.cookie' is nested).
type FieldPath = readonly string[];

/** Payload fields that hold a credential and are needed back, per model. */
const SEALED_FIELDS: Record<string, readonly FieldPath[]> = {
  Session: [['jti']],
  DeviceCode: [['jti'], ['userCode']],
  Interaction: [['deviceCode'], ['parJti'], ['session', 'cookie']],
};

/** Where a stored payload keeps its sealed fields (a key no oidc-provider model uses). */
const SEALED_KEY = 'gatehouse:sealed';

const fieldName = (path: FieldPath) => path.join('.');
// As a seal purpose: lower case and underscores (deviceCode -> device_code, session.cookie -> session_cookie).
const purposeOf = (path: FieldPath) => path.map((key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)).join('_');

function read(payload: Record<string, unknown>, path: FieldPath): unknown {
  let at: unknown = payload;
  for (const key of path) at = (at as Record<string, unknown> | undefined)?.[key];
  return at;
}

/** Sets a nested field, copying each object on the way so the caller's payload is untouched. */
function write(payload: Record<string, unknown>, path: FieldPath, value: unknown): Record<string, unknown> {
  const [key, ...rest] = path;
  const copy = { ...payload };
  if (rest.length === 0) {
    if (value === undefined) delete copy[key];
    else copy[key] = value;
  } else {
    copy[key] = write((payload[key] as Record<string, unknown>) ?? {}, rest, value);
  }
  return copy;
}

export class ArtefactProtection {
  private readonly box: SecretBox;

  constructor(box: SecretBox) {
    this.box = box;
  }

  /** A sealed field opens only in its own row and field. */
  private static place(model: string, storedId: string, path: FieldPath): SealContext {
    return { table: 'oidc_payloads', rowId: `${model}:${storedId}`, purpose: purposeOf(path) };
  }

  /** The payload as stored: no `jti`, and the model's credential fields sealed. */
  protect(model: string, storedId: string, payload: AdapterPayload): Record<string, unknown> {
    let stored: Record<string, unknown> = { ...payload };
    const sealed: Record<string, string> = {};
    for (const path of SEALED_FIELDS[model] ?? []) {
      const value = read(stored, path);
      if (typeof value !== 'string') continue;
      sealed[fieldName(path)] = this.box.seal(value, ArtefactProtection.place(model, storedId, path));
      stored = write(stored, path, undefined);
    }
    delete stored.jti;
    if (Object.keys(sealed).length > 0) stored[SEALED_KEY] = sealed;
    return stored;
  }

  /**
   * The payload oidc-provider wrote, from a stored one. `value` is the artefact's value when the
   * row was found by it; otherwise (uid, user code) the sealed copy gives it back.
   */
  reveal(model: string, storedId: string, stored: Record<string, unknown>, value?: string): AdapterPayload {
    const { [SEALED_KEY]: sealed, ...rest } = stored as Record<string, unknown> & { [SEALED_KEY]?: Record<string, string> };
    let payload: Record<string, unknown> = rest;
    for (const path of SEALED_FIELDS[model] ?? []) {
      const box = sealed?.[fieldName(path)];
      // A field that does not open (sealed under a SECRET_KEY since dropped from the ring) throws
      // SealedSecretError; the adapter then treats the row as gone.
      if (box) payload = write(payload, path, this.box.open(box, ArtefactProtection.place(model, storedId, path)));
    }
    if (value !== undefined) payload.jti = value;
    return payload as AdapterPayload;
  }
}

/** Artefacts whose sealed fields moved to the current SECRET_KEY, and those that no longer open. */
export interface ArtefactResealResult {
  resealed: number;
  dropped: number;
}

const RESEAL_BATCH = 500;

/**
 * `secrets rotate`: re-seals the sealed fields of every artefact under the current key. Not in
 * the rotation's one transaction, and never holding a lock: sessions are written all the time,
 * and the payload writer would queue every token of the server behind one locked session row. So
 * it goes in small batches, each row rewritten only if it is still what was read (a row the
 * server rewrote meanwhile is sealed with the current key already). An artefact whose fields
 * open with no key of the ring cannot be used by anyone (it reads as gone), so it is deleted
 * rather than allowed to stop the rotation.
 */
export async function resealArtefacts(db: Db, box: SecretBox): Promise<ArtefactResealResult> {
  const protection = new ArtefactProtection(box);
  const result: ArtefactResealResult = { resealed: 0, dropped: 0 };
  let after: [string, string] = ['', ''];
  for (;;) {
    const rows: { model: string; id: string; payload: Record<string, unknown> }[] = await db('oidc_payloads')
      .select('model', 'id', 'payload')
      .whereRaw('payload -> ? is not null', [SEALED_KEY])
      .andWhereRaw('(model, id) > (?, ?)', after)
      .orderBy([{ column: 'model' }, { column: 'id' }])
      .limit(RESEAL_BATCH);
    for (const row of rows) {
      const sealed = Object.values(row.payload[SEALED_KEY] as Record<string, string>);
      if (!sealed.some((value) => box.needsReseal(value))) continue;
      const unchanged = db('oidc_payloads')
        .where({ model: row.model, id: row.id })
        .andWhereRaw('payload = ?::jsonb', [JSON.stringify(row.payload)]);
      try {
        const stored = protection.protect(row.model, row.id, protection.reveal(row.model, row.id, row.payload));
        result.resealed += await unchanged.update({ payload: JSON.stringify(stored) });
      } catch (error) {
        if (!(error instanceof SealedSecretError)) throw error;
        result.dropped += await unchanged.delete();
      }
    }
    if (rows.length < RESEAL_BATCH) return result;
    const last = rows[rows.length - 1];
    after = [last.model, last.id];
  }
}
