// A software WebAuthn authenticator for tests that need no browser: one P-256 credential made
// with node:crypto, answering a ceremony's challenge with what a browser hands the page
// (RegistrationResponseJSON with 'none' attestation, AuthenticationResponseJSON), byte for byte
// as the specification lays it out, so SimpleWebAuthn verifies it as it would a real one.
// Knobs make one answer misbehave one way at a time: another origin or RP ID, no user
// verification, a chosen sign counter, a signature by another key.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';

// Authenticator data flags (WebAuthn §6.1).
const USER_PRESENT = 0x01;
const USER_VERIFIED = 0x04;
const BACKUP_ELIGIBLE = 0x08;
const BACKED_UP = 0x10;
const ATTESTED_CREDENTIAL = 0x40;

const COSE_EC2 = 2;
const COSE_ES256 = -7;
const COSE_P256 = 1;

export interface SoftAuthenticatorSetup {
  origin: string;
  rpId: string;
  /** A synced passkey (backup eligible and backed up): SimpleWebAuthn calls it multiDevice. */
  synced?: boolean;
  /** The authenticator model; all zeros (as many report under 'none' attestation) by default. */
  aaguid?: string;
  transports?: string[];
}

/** One way to misbehave, for one answer. */
export interface Knobs {
  origin?: string;
  rpId?: string;
  /** false: the authenticator checked presence but not who the person is (no UV flag). */
  userVerified?: boolean;
  /** The sign count to report; by default the previous one plus 1 (0 at registration). */
  counter?: number;
  /** Signs with this key instead of the credential's own. */
  signingKey?: KeyObject;
  /** The user handle to report (base64url); null leaves it out. By default the one registered. */
  userHandle?: string | null;
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();
const uint32 = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
};

/** A P-256 private key that belongs to no credential: for a signature by "another key". */
export const strangerKey = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

export class SoftAuthenticator {
  readonly credentialId: Buffer = randomBytes(32);
  private readonly keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  private counter = 0;
  private userHandle: string | undefined;
  private readonly setup: SoftAuthenticatorSetup;

  constructor(setup: SoftAuthenticatorSetup) {
    this.setup = setup;
  }

  /** The credential id as the server stores it (base64url). */
  get id(): string {
    return b64url(this.credentialId);
  }

  /** Answers registration options (their challenge and user id), creating this credential. */
  register(options: { challenge: string; user?: { id: string } }, knobs: Knobs = {}): RegistrationResponseJSON {
    this.userHandle = options.user?.id;
    this.counter = knobs.counter ?? 0;
    const authData = this.authenticatorData(knobs, this.attestedCredential());
    const attestationObject = isoCBOR.encode(
      new Map<string, Uint8Array | string | Map<string, string>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', authData],
      ]),
    );
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: this.clientData('webauthn.create', options.challenge, knobs),
        attestationObject: b64url(attestationObject),
        transports: this.setup.transports ?? ['internal'],
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  /** Answers a challenge: signs authenticatorData || sha256(clientDataJSON). */
  authenticate(challenge: string, knobs: Knobs = {}): AuthenticationResponseJSON {
    this.counter = knobs.counter ?? this.counter + 1;
    const authData = this.authenticatorData(knobs);
    const clientDataJSON = this.clientData('webauthn.get', challenge, knobs);
    const signed = Buffer.concat([authData, sha256(Buffer.from(clientDataJSON, 'base64url'))]);
    const signature = sign('sha256', signed, knobs.signingKey ?? this.keys.privateKey);
    const userHandle = knobs.userHandle === undefined ? this.userHandle : (knobs.userHandle ?? undefined);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: { clientDataJSON, authenticatorData: b64url(authData), signature: b64url(signature), userHandle },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  private clientData(type: string, challenge: string, knobs: Knobs): string {
    const origin = knobs.origin ?? this.setup.origin;
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false })).toString('base64url');
  }

  private authenticatorData(knobs: Knobs, attested?: Buffer): Buffer {
    let flags = USER_PRESENT;
    if (knobs.userVerified ?? true) flags |= USER_VERIFIED;
    if (this.setup.synced) flags |= BACKUP_ELIGIBLE | BACKED_UP;
    if (attested) flags |= ATTESTED_CREDENTIAL;
    const parts = [sha256(knobs.rpId ?? this.setup.rpId), Buffer.from([flags]), uint32(this.counter)];
    return Buffer.concat(attested ? [...parts, attested] : parts);
  }

  /** AAGUID || credential id length || credential id || COSE public key. */
  private attestedCredential(): Buffer {
    const aaguid = Buffer.from((this.setup.aaguid ?? '00000000-0000-0000-0000-000000000000').replaceAll('-', ''), 'hex');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(this.credentialId.length);
    return Buffer.concat([aaguid, length, this.credentialId, this.cosePublicKey()]);
  }

  private cosePublicKey(): Uint8Array {
    const jwk = this.keys.publicKey.export({ format: 'jwk' });
    return isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, COSE_EC2],
        [3, COSE_ES256],
        [-1, COSE_P256],
        [-2, new Uint8Array(Buffer.from(jwk.x as string, 'base64url'))],
        [-3, new Uint8Array(Buffer.from(jwk.y as string, 'base64url'))],
      ]),
    );
  }
}
