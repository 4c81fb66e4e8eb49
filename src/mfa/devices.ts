// Known devices: the browsers a user finished a multi-factor sign-in in, recognised by a
// long-lived cookie, so that adaptive MFA asks for the second factor again only where it is new
// or the sign-in looks unusual (src/mfa/risk.ts).
//
// The cookie holds a 256-bit random value, signed with the cookie keys (Koa's signed cookies);
// the database holds only a digest of it together with the user's id, so one browser shared by
// two people is two devices, and neither a database dump nor a copied row recognises anyone.
// Only a sign-in that reached the multi-factor level remembers its browser: a password alone
// never makes a browser trusted, so an attacker who has it is still asked for the factor.
// With a GeoIP database (GEOIP_DATABASE, src/mfa/geo.ts) a row also keeps where the browser was
// last seen: its country, and its coordinates when the database has them.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/index.ts';
import { commitChange, type ServiceContext } from '../changes/index.ts';
import { NotFoundError } from '../errors/index.ts';
import { networkOf } from './networks.ts';
import type { Locate } from './geo.ts';

export const DEVICE_COOKIE = 'gatehouse.device';
/** Browsers cap cookie lifetimes at 400 days. */
export const DEVICE_COOKIE_MAX_AGE_MS = 400 * 24 * 3600 * 1000;

export interface KnownDevice {
  id: string;
  name: string;
  network: string;
  createdAt: Date;
  lastSeenAt: Date;
}

interface DeviceRow {
  id: string;
  user_id: string;
  digest: string;
  name: string;
  network: string;
  created_at: Date;
  last_seen_at: Date;
}

const fromRow = (row: DeviceRow): KnownDevice => ({
  id: row.id,
  name: row.name,
  network: row.network,
  createdAt: row.created_at,
  lastSeenAt: row.last_seen_at,
});

const deviceDigest = (cookie: string, userId: string) => createHash('sha256').update(`${userId}:${cookie}`).digest('base64url');

/** A new value for a browser's device cookie. */
export const newDeviceCookie = () => randomBytes(32).toString('base64url');

/** The user's device this cookie names, if they have finished a multi-factor sign-in with it. */
export async function recognisedDevice(db: Db, userId: string, cookie: string | undefined): Promise<KnownDevice | undefined> {
  if (!cookie) return undefined;
  const row = await db<DeviceRow>('known_devices')
    .where({ user_id: userId, digest: deviceDigest(cookie, userId) })
    .first();
  return row ? fromRow(row) : undefined;
}

export interface DeviceSighting {
  userId: string;
  cookie: string;
  userAgent: string | undefined;
  ip: string;
  /** Places the address, when a GeoIP database is configured; without it the place is left as it was. */
  locate?: Locate;
}

/** Remembers this browser for the user (or notes that it was seen again, from where). */
export async function rememberDevice(db: Db, sighting: DeviceSighting): Promise<void> {
  const network = networkOf(sighting.ip);
  // An address the database does not know clears the old place: the browser is no longer known
  // to be there, and impossible travel must not measure from it.
  const place = sighting.locate?.(sighting.ip);
  const where = sighting.locate
    ? { country: place?.country ?? null, latitude: place?.latitude ?? null, longitude: place?.longitude ?? null }
    : {};
  await db('known_devices')
    .insert({
      id: randomUUID(),
      user_id: sighting.userId,
      digest: deviceDigest(sighting.cookie, sighting.userId),
      name: deviceName(sighting.userAgent),
      network,
      ...where,
    })
    .onConflict('digest')
    .merge({ network, ...where, last_seen_at: db.fn.now() });
}

/** Whether one of the user's remembered browsers was last seen in this country. */
export async function knownCountry(db: Db, userId: string, country: string): Promise<boolean> {
  return Boolean(await db('known_devices').where({ user_id: userId, country }).first('id'));
}

export interface LastLocation {
  latitude: number;
  longitude: number;
  /** How long ago the browser was seen there, by the database's clock. */
  secondsAgo: number;
}

/** Where the user's most recently seen remembered browser with coordinates was, and how long ago. */
export async function lastLocation(db: Db, userId: string): Promise<LastLocation | undefined> {
  const row = (await db('known_devices')
    .where('user_id', userId)
    .whereNotNull('latitude')
    .whereNotNull('longitude')
    .orderBy('last_seen_at', 'desc')
    .first('latitude', 'longitude', db.raw('extract(epoch from (now() - last_seen_at)) as seconds_ago'))) as
    | { latitude: number | string; longitude: number | string; seconds_ago: number | string }
    | undefined;
  return row ? { latitude: Number(row.latitude), longitude: Number(row.longitude), secondsAgo: Number(row.seconds_ago) } : undefined;
}

/** Whether the user ever finished a multi-factor sign-in from this network. */
export async function knownNetwork(db: Db, userId: string, ip: string): Promise<boolean> {
  return Boolean(
    await db('known_devices')
      .where({ user_id: userId, network: networkOf(ip) })
      .first('id'),
  );
}

export async function listDevices(db: Db, userId: string): Promise<KnownDevice[]> {
  const rows = await db<DeviceRow>('known_devices').where('user_id', userId).orderBy('last_seen_at', 'desc');
  return rows.map(fromRow);
}

/** Forgets one of the user's devices: its next sign-in asks for the second factor again. */
export async function forgetDevice(ctx: ServiceContext, userId: string, deviceId: string): Promise<void> {
  await commitChange(ctx, async (trx) => {
    const forgotten = /^[0-9a-f-]{36}$/i.test(deviceId) ? await trx('known_devices').where({ id: deviceId, user_id: userId }).delete() : 0;
    if (!forgotten) throw new NotFoundError(`User ${userId} has no device ${deviceId}`);
    return { value: undefined, record: { type: 'user.device_forgotten', subject: userId, userId, data: { device: deviceId } } };
  });
}

// What a person would call the browser: "Firefox on Linux". Coarse on purpose: enough to tell
// one's laptop from one's phone on the Security page, not a fingerprint.
const BROWSERS: [RegExp, string][] = [
  [/Edg\//, 'Edge'],
  [/OPR\//, 'Opera'],
  [/Firefox\//, 'Firefox'],
  [/Chrom(e|ium)\//, 'Chrome'],
  [/Safari\//, 'Safari'],
];
const SYSTEMS: [RegExp, string][] = [
  [/Android/, 'Android'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Windows/, 'Windows'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

export function deviceName(userAgent: string | undefined): string {
  const agent = userAgent ?? '';
  const browser = BROWSERS.find(([pattern]) => pattern.test(agent))?.[1] ?? 'A browser';
  const system = SYSTEMS.find(([pattern]) => pattern.test(agent))?.[1];
  return system ? `${browser} on ${system}` : browser;
}
