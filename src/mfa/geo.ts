// Where an address is, for the adaptive-MFA rules that compare places (src/mfa/risk.ts): a
// MaxMind DB file (GEOIP_DATABASE: GeoLite2-Country or -City, GeoIP2, or any database with the
// same record shape). A Country database gives the country; a City database also gives
// coordinates.
//
// The file is read once per path, when the configuration is validated, and kept in memory:
// lookups are synchronous and never touch the disk. A new edition of the file is read at the next
// start. An address the database does not know (private ranges, loopback, anything unlisted) has
// no place: no rule trips on it, and nothing here throws on any input.
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { type CityResponse, Reader } from 'maxmind';

/** Where an address is, as far as the database knows. */
export interface Place {
  /** ISO 3166-1 alpha-2 code, e.g. "FR". */
  country?: string;
  latitude?: number;
  longitude?: number;
}

export type Locate = (ip: string) => Place | undefined;

export interface GeoDatabase {
  /** The database's own name for what it holds, e.g. "GeoLite2-City". */
  databaseType: string;
  locate: Locate;
}

/** A GEOIP_DATABASE that cannot be used, in words that name the file and what is wrong. */
export class GeoDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GeoDatabaseError';
  }
}

// The last occurrence of this marker starts the metadata (MaxMind DB spec 2.0).
const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
const opened = new Map<string, GeoDatabase>();

/** The database in the file at `path`, read on first use and kept; throws GeoDatabaseError. */
export function geoDatabase(path: string): GeoDatabase {
  let database = opened.get(path);
  if (!database) {
    database = readGeoDatabase(path);
    opened.set(path, database);
  }
  return database;
}

/** Why the file at `path` is not a usable GeoIP database; undefined when it is. */
export function geoDatabaseProblem(path: string): string | undefined {
  try {
    geoDatabase(path);
    return undefined;
  } catch (error) {
    if (error instanceof GeoDatabaseError) return error.message;
    throw error;
  }
}

function readGeoDatabase(path: string): GeoDatabase {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new GeoDatabaseError(`${path} ${unreadable(error as NodeJS.ErrnoException)}`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) throw new GeoDatabaseError(`${path} is gzip-compressed: unpack the .mmdb file from it`);
  if (bytes.lastIndexOf(METADATA_MARKER) < 0) throw new GeoDatabaseError(`${path} is not a MaxMind DB (.mmdb) file`);
  let reader: Reader<CityResponse>;
  try {
    reader = new Reader<CityResponse>(bytes);
    const { ipVersion, nodeCount, searchTreeSize } = reader.metadata;
    if (ipVersion !== 4 && ipVersion !== 6) throw new Error(`ip_version ${ipVersion}`);
    if (!Number.isInteger(nodeCount) || searchTreeSize + 16 > bytes.length) throw new Error('its search tree is cut short');
    reader.get('1.1.1.1'); // walks the tree and decodes a record: a damaged file says so now, not at a sign-in
  } catch (error) {
    throw new GeoDatabaseError(`${path} is a damaged MaxMind DB file (${(error as Error).message})`);
  }
  const ipVersion = reader.metadata.ipVersion;
  return {
    databaseType: String(reader.metadata.databaseType),
    locate: (ip) => {
      const address = plainAddress(ip);
      // An IPv4-only database has no answer for IPv6, and its tree would misread one.
      if (!address || (ipVersion === 4 && !isIPv4(address))) return undefined;
      try {
        return placeOf(reader.get(address));
      } catch {
        return undefined;
      }
    },
  };
}

function unreadable(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'does not exist';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read (permission denied)';
    default:
      return `cannot be read (${error.code ?? error.message})`;
  }
}

/** The address as the database indexes it: IPv4-mapped IPv6 written as IPv4, no zone id. */
function plainAddress(ip: string): string | undefined {
  const bare = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  const address = mapped ? mapped[1] : bare;
  return isIPv4(address) || isIPv6(address) ? address : undefined;
}

function placeOf(record: CityResponse | null): Place | undefined {
  if (!record) return undefined;
  const place: Place = {};
  const country = record.country?.iso_code;
  if (typeof country === 'string' && country) place.country = country;
  const { latitude, longitude } = record.location ?? {};
  if (Number.isFinite(latitude) && Number.isFinite(longitude)) {
    place.latitude = latitude;
    place.longitude = longitude;
  }
  return Object.keys(place).length ? place : undefined;
}

const EARTH_RADIUS_KM = 6371;
const radians = (degrees: number) => (degrees * Math.PI) / 180;

/** The great-circle distance between two points, in kilometres (haversine). */
export function distanceKm(from: { latitude: number; longitude: number }, to: { latitude: number; longitude: number }): number {
  const dLat = radians(to.latitude - from.latitude);
  const dLon = radians(to.longitude - from.longitude);
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(radians(from.latitude)) * Math.cos(radians(to.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}
