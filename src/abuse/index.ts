// Abuse defence: how often anyone may try to sign in, register, send mail to an address, type a
// code or use a link. Every limit takes its point before the work is done, atomically in the
// store, so parallel requests cannot slip past it; none depends on whether an account exists,
// so a limit never tells anyone who has one.
//
// Sign-in (OWASP ASVS 2.2.1):
//   per source          100 attempts a day per IP (IPv6: per /64)
//   per address+source  5 failures in 15 minutes, then 15 minutes refused
//   per address         from any number of sources (distributed guessing): after `delayAfter`
//                       failures each further try waits 1, 2, 4… seconds (at most a minute;
//                       a try before then is refused and counted), after `lockAfter` failed
//                       or refused tries in an hour the address is locked for
//                       `lockMinutes`. The owner is told by email with a reset link, and a
//                       password reset lifts the lock, so nobody can keep an owner out for good.
// Addresses are keyed as the database compares them (lower() of the trimmed address), so a
// Unicode case variant (alİce@ for alice@) counts against the same account it would sign in to.
import type { Database } from '../db/index.ts';
import { limitKey, openLimiterStore, take, type LimiterStore } from './limiters.ts';
import { sourceOf } from './sources.ts';

export { sweepRateLimits } from './limiters.ts';
export { sourceOf } from './sources.ts';

export interface AbuseSettings {
  redisUrl?: string;
  signInDelayAfter: number;
  signInLockAfter: number;
  signInLockMinutes: number;
}

export type Refusal = { allowed: false; retryAfterSeconds: number };
export type Decision = { allowed: true } | Refusal;

export type SignInDecision =
  | { allowed: true }
  | (Refusal & {
      /** source: this IP or this address from this IP; slow_down: a progressive delay; locked: the address. */
      reason: 'source' | 'slow_down' | 'locked';
      /** This attempt is the one that locked the address (tell its owner once). */
      lockedNow: boolean;
    });

export interface SignInGate {
  /** Takes an attempt for this (normalised) address from this IP, before the password is checked. */
  attempt(addressKey: string, ip: string): Promise<SignInDecision>;
  /** The password was right: forget the address's failures from here and give the IP its point back. */
  succeeded(addressKey: string, ip: string): Promise<void>;
  /** The owner proved themselves another way (a password reset): lift the address's lock and delays. */
  forgive(addressKey: string): Promise<void>;
}

/** An action limited per key (a source's IP, an address, an actor): a point per try; refused until the window ends. */
export interface ActionLimit {
  attempt(key: string): Promise<Decision>;
}

export interface AbuseDefence {
  store: LimiterStore['kind'];
  signIn: SignInGate;
  /** New accounts per source. */
  registration: ActionLimit;
  /** Emails (verification, reset, registration notices) sent to one address. */
  mailToAddress: ActionLimit;
  /** Password-reset requests per source. */
  resetRequest: ActionLimit;
  /** Codes typed, per source (each token also dies after five wrong codes). */
  codeEntry: ActionLimit;
  /** Emailed links used, per source (what a guessed or tampered link costs). */
  linkUse: ActionLimit;
  /** Passkey ceremonies started, per source (each stores a challenge). */
  passkeyCeremony: ActionLimit;
  /** Invitations sent per operator or admin client. */
  invitation: ActionLimit;
  close(): Promise<void>;
}

const decision = (wait: number): Decision => (wait > 0 ? { allowed: false, retryAfterSeconds: wait } : { allowed: true });

export function createAbuseDefence(database: Database, settings: AbuseSettings): AbuseDefence {
  const store = openLimiterStore(database, settings.redisUrl);
  const action = (prefix: string, points: number, duration: number, bucket: (key: string) => string = (key) => key): ActionLimit => {
    const limiter = store.limiter(prefix, { points, duration });
    return { attempt: async (key) => decision((await take(limiter, limitKey(bucket(key)))).wait) };
  };
  // Limits per source count an IPv6 client's whole /64 as one.
  const perSource = (prefix: string, points: number, duration: number) => action(prefix, points, duration, sourceOf);
  return {
    store: store.kind,
    signIn: signInGate(store, settings),
    registration: perSource('signup_ip', 10, 3600),
    mailToAddress: action('mail_address', 5, 3600),
    resetRequest: perSource('reset_ip', 20, 3600),
    codeEntry: perSource('code_ip', 30, 3600),
    passkeyCeremony: perSource('passkey_ip', 60, 3600),
    linkUse: perSource('link_ip', 30, 3600),
    invitation: action('invite_actor', 200, 3600),
    close: () => store.close(),
  };
}

function signInGate(store: LimiterStore, settings: AbuseSettings): SignInGate {
  const perSource = store.limiter('login_ip', { points: 100, duration: 24 * 3600, blockDuration: 24 * 3600 });
  const perAddressAndSource = store.limiter('login_account', { points: 5, duration: 15 * 60, blockDuration: 15 * 60 });
  const lockSeconds = settings.signInLockMinutes * 60;
  const perAddress = store.limiter('login_address', { points: settings.signInLockAfter, duration: 3600, blockDuration: lockSeconds });
  // One point per delay window: a try before the window ends is refused.
  const pace = store.limiter('login_pace', { points: 1, duration: 1 });

  const sourceKey = (ip: string) => limitKey(sourceOf(ip));
  const pairKey = (address: string, ip: string) => limitKey(address, sourceOf(ip));
  const addressKey = (address: string) => limitKey(address);

  return {
    async attempt(address, ip) {
      const [source, pair, account] = await Promise.all([
        take(perSource, sourceKey(ip)),
        take(perAddressAndSource, pairKey(address, ip)),
        take(perAddress, addressKey(address)),
      ]);
      if (account.wait > 0) {
        // Only the try that crossed the threshold sees exactly one point over it.
        const lockedNow = account.used === settings.signInLockAfter + 1;
        return { allowed: false, reason: 'locked', retryAfterSeconds: account.wait, lockedNow };
      }
      const sourceWait = Math.max(source.wait, pair.wait);
      if (sourceWait > 0) return { allowed: false, reason: 'source', retryAfterSeconds: sourceWait, lockedNow: false };
      if (account.used > settings.signInDelayAfter) {
        const delay = Math.min(2 ** (account.used - settings.signInDelayAfter - 1), 60);
        const paced = await take(pace, addressKey(address), { customDuration: delay });
        // Too early: refused, and still counted towards the lock (hammering only locks sooner).
        if (paced.wait > 0) return { allowed: false, reason: 'slow_down', retryAfterSeconds: paced.wait, lockedNow: false };
      }
      return { allowed: true };
    },
    async succeeded(address, ip) {
      await Promise.all([
        perAddressAndSource.delete(pairKey(address, ip)),
        perAddress.delete(addressKey(address)),
        pace.delete(addressKey(address)),
        perSource.reward(sourceKey(ip), 1),
      ]);
    },
    async forgive(address) {
      await Promise.all([perAddress.delete(addressKey(address)), pace.delete(addressKey(address))]);
    },
  };
}
