// Adaptive MFA: when a user who holds a second factor is asked for it. Each rule names a signal
// that this sign-in is not the owner's usual one; the mfa prompt asks when any configured rule
// trips (MFA_RISK_RULES), and its screen says which.
//
//   new_device          this browser never finished a multi-factor sign-in to the account
//                       (src/mfa/devices.ts); with this rule off, every sign-in is asked
//   new_network         the address is on a network (IPv4 /24, IPv6 /48) none of the account's
//                       known devices signed in from
//   new_country         the address is in a country none of the account's known devices was
//                       last seen in (needs GEOIP_DATABASE; an unknown country does not trip)
//   impossible_travel   from where the account's most recently seen known device with
//                       coordinates was, to here, is 500 km or more, and faster than 1000 km/h
//                       since it was seen (needs a City GEOIP_DATABASE; below 500 km GeoIP is
//                       too coarse to tell; an unknown place does not trip)
//   recent_failures     three or more failed passwords or factors for the account in the last hour
//
// `always` (MFA_RISK_RULES=always) asks on every sign-in. The place rules read the address's
// place from the GeoIP database (src/mfa/geo.ts) and what known devices remember of theirs.
import type { Db } from '../db/index.ts';
import { knownCountry, knownNetwork, lastLocation, recognisedDevice } from './devices.ts';
import { distanceKm, geoDatabase, type Place } from './geo.ts';

export const RISK_RULES = ['new_device', 'new_network', 'new_country', 'impossible_travel', 'recent_failures'] as const;
export type RiskRule = (typeof RISK_RULES)[number];
/** The rules that place the address, and so need GEOIP_DATABASE. */
export const GEO_RULES: readonly RiskRule[] = ['new_country', 'impossible_travel'];

export interface RiskRules {
  readonly rules: readonly RiskRule[];
  /** GEOIP_DATABASE (a path), which the place rules read. */
  readonly geoipDatabase?: string;
}
export type RiskPolicy = RiskRules | 'always';
export const DEFAULT_RISK_POLICY: RiskRules = { rules: ['new_device', 'recent_failures'] };

const RECENT_FAILURES = 3;
const FAILURE_TYPES = ['login.failed', 'login.mfa_failed', 'login.throttled'];
/** Faster than an airliner, door to door. */
export const IMPOSSIBLE_KM_PER_HOUR = 1000;
/** GeoIP places an address within tens, sometimes hundreds, of kilometres: shorter hops tell nothing. */
export const TRAVEL_MIN_KM = 500;

export interface SignInContext {
  userId: string;
  /** The browser's device cookie, when it sent a good one. */
  deviceCookie: string | undefined;
  ip: string;
}

interface Sighting extends SignInContext {
  /** Where the address is; undefined without a GeoIP database or when it does not know the address. */
  place: Place | undefined;
}

async function recentFailures(db: Db, userId: string): Promise<number> {
  const [row] = (await db('audit_events')
    .where('user_id', userId)
    .whereIn('type', FAILURE_TYPES)
    .where('at', '>', db.raw("now() - interval '1 hour'"))
    .count({ n: '*' })) as { n: string | number }[];
  return Number(row?.n ?? 0);
}

async function impossibleTravel(db: Db, userId: string, here: Place | undefined): Promise<boolean> {
  if (here?.latitude === undefined || here.longitude === undefined) return false;
  const last = await lastLocation(db, userId);
  if (!last) return false;
  const km = distanceKm(last, { latitude: here.latitude, longitude: here.longitude });
  // A second at least: a sighting "just now" far away is as impossible as one a second ago.
  const hours = Math.max(last.secondsAgo, 1) / 3600;
  return km >= TRAVEL_MIN_KM && km / hours > IMPOSSIBLE_KM_PER_HOUR;
}

const TRIPS: Record<RiskRule, (db: Db, sighting: Sighting) => Promise<boolean>> = {
  new_device: async (db, { userId, deviceCookie }) => !(await recognisedDevice(db, userId, deviceCookie)),
  new_network: async (db, { userId, ip }) => !(await knownNetwork(db, userId, ip)),
  new_country: async (db, { userId, place }) => place?.country !== undefined && !(await knownCountry(db, userId, place.country)),
  impossible_travel: (db, { userId, place }) => impossibleTravel(db, userId, place),
  recent_failures: async (db, { userId }) => (await recentFailures(db, userId)) >= RECENT_FAILURES,
};

/** The rules this sign-in trips (all of them, in order); ['always'] under the `always` policy. */
export async function riskSignals(db: Db, policy: RiskPolicy, context: SignInContext): Promise<string[]> {
  if (policy === 'always') return ['always'];
  const { geoipDatabase } = policy;
  const placing = geoipDatabase !== undefined && policy.rules.some((rule) => GEO_RULES.includes(rule));
  const sighting: Sighting = { ...context, place: placing ? geoDatabase(geoipDatabase).locate(context.ip) : undefined };
  const tripped = await Promise.all(policy.rules.map(async (rule) => ((await TRIPS[rule](db, sighting)) ? rule : undefined)));
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
  return { policy: { rules: [...new Set(rules)] as RiskRule[] } };
}

/** The configured rules that need a GeoIP database when none is set: each is a configuration problem. */
export function rulesNeedingGeoip(policy: RiskPolicy, geoipDatabase: string | undefined): RiskRule[] {
  return policy === 'always' || geoipDatabase ? [] : policy.rules.filter((rule) => GEO_RULES.includes(rule));
}
