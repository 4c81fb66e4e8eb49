// Adaptive MFA: when a user who holds a second factor is asked for it. Each rule names a signal
// that this sign-in is not the owner's usual one; the mfa prompt asks when any configured rule
// trips (MFA_RISK_RULES), and its screen says which.
//
//   new_device        this browser never finished a multi-factor sign-in to the account
//                     (src/mfa/devices.ts); with this rule off, every sign-in is asked
//   new_network       the address is on a network (IPv4 /24, IPv6 /48) none of the account's
//                     known devices signed in from
//   recent_failures   three or more failed passwords or factors for the account in the last hour
//
// `always` (MFA_RISK_RULES=always) asks on every sign-in. Country and impossible-travel rules
// need a GeoIP database, which Gatehouse does not ship yet.
import type { Db } from '../db/index.ts';
import { knownNetwork, recognisedDevice } from './devices.ts';

export const RISK_RULES = ['new_device', 'new_network', 'recent_failures'] as const;
export type RiskRule = (typeof RISK_RULES)[number];
export type RiskPolicy = readonly RiskRule[] | 'always';
export const DEFAULT_RISK_POLICY: RiskRule[] = ['new_device', 'recent_failures'];

const RECENT_FAILURES = 3;
const FAILURE_TYPES = ['login.failed', 'login.mfa_failed', 'login.throttled'];

export interface SignInContext {
  userId: string;
  /** The browser's device cookie, when it sent a good one. */
  deviceCookie: string | undefined;
  ip: string;
}

async function recentFailures(db: Db, userId: string): Promise<number> {
  const [row] = (await db('audit_events')
    .where('user_id', userId)
    .whereIn('type', FAILURE_TYPES)
    .where('at', '>', db.raw("now() - interval '1 hour'"))
    .count({ n: '*' })) as { n: string | number }[];
  return Number(row?.n ?? 0);
}

const TRIPS: Record<RiskRule, (db: Db, context: SignInContext) => Promise<boolean>> = {
  new_device: async (db, { userId, deviceCookie }) => !(await recognisedDevice(db, userId, deviceCookie)),
  new_network: async (db, { userId, ip }) => !(await knownNetwork(db, userId, ip)),
  recent_failures: async (db, { userId }) => (await recentFailures(db, userId)) >= RECENT_FAILURES,
};

/** The rules this sign-in trips (all of them, in order); ['always'] under the `always` policy. */
export async function riskSignals(db: Db, policy: RiskPolicy, context: SignInContext): Promise<string[]> {
  if (policy === 'always') return ['always'];
  const tripped = await Promise.all(policy.map(async (rule) => ((await TRIPS[rule](db, context)) ? rule : undefined)));
  return tripped.filter((rule): rule is RiskRule => rule !== undefined);
}

/** Reads MFA_RISK_RULES: `always`, or a comma-separated list of rules. */
export function readRiskPolicy(value: string): { policy: RiskPolicy } | { problem: string } {
  const trimmed = value.trim();
  if (trimmed === 'always') return { policy: 'always' };
  const rules = trimmed
    .split(',')
    .map((rule) => rule.trim())
    .filter(Boolean);
  const unknown = rules.filter((rule) => !(RISK_RULES as readonly string[]).includes(rule));
  if (unknown.length || !rules.length)
    return {
      problem: `MFA_RISK_RULES must be "always" or a comma-separated list of ${RISK_RULES.join(', ')}${unknown.length ? ` (not ${unknown.join(', ')})` : ''}`,
    };
  return { policy: [...new Set(rules)] as RiskRule[] };
}
