// A small writer of the MaxMind DB format (https://maxmind.github.io/MaxMind-DB/, version 2.0),
// for tests only: a real GeoLite2 file is large, licensed, and holds none of the addresses a test
// wants to place. The file it writes is what the real readers expect:
//
//   search tree     node_count nodes of two records (24, 28 or 32 bits each) over the address
//                   bits; a record names a node, "no data" (node_count), or data (node_count + 16
//                   + the value's offset in the data section). An ip_version 6 tree holds IPv4
//                   networks at ::/96, as MaxMind's own files do.
//   16 zero bytes   the data section separator
//   data section    each distinct record once, MaxMind-DB-encoded (maps, utf8 strings, doubles,
//                   unsigned integers, arrays, booleans)
//   "\xab\xcd\xefMaxMind.com" and the metadata map
//
// Networks are inserted in order; a network inside one inserted earlier overrides it there, so
// list broad networks before narrower ones.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

class Typed {
  readonly type: 'double' | 'uint16' | 'uint32' | 'uint64';
  readonly value: number;
  constructor(type: Typed['type'], value: number) {
    this.type = type;
    this.value = value;
  }
}
export const double = (value: number) => new Typed('double', value);
export const uint16 = (value: number) => new Typed('uint16', value);
export const uint64 = (value: number) => new Typed('uint64', value);

/** A value in the data section; a plain number is a uint32 when it is a whole number ≥ 0, else a double. */
export type MmdbValue = string | number | boolean | Typed | MmdbValue[] | { [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** CIDR, IPv4 or IPv6: "192.0.2.0/24", "2001:db8::/32". */
  network: string;
  data: MmdbValue;
}

export interface MmdbOptions {
  ipVersion?: 4 | 6;
  recordSize?: 24 | 28 | 32;
  databaseType?: string;
  description?: string;
  languages?: string[];
  buildEpoch?: number;
}

const TYPE = { pointer: 1, utf8: 2, double: 3, bytes: 4, uint16: 5, uint32: 6, map: 7, int32: 8, uint64: 9, array: 11, boolean: 14 };
const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');

/** A control byte (and its extended-type and size bytes) for a value of `type` and `size`. */
function control(type: number, size: number): Buffer {
  let sizeBits: number;
  let sizeBytes: number[];
  if (size < 29) [sizeBits, sizeBytes] = [size, []];
  else if (size < 285) [sizeBits, sizeBytes] = [29, [size - 29]];
  else if (size < 65821) [sizeBits, sizeBytes] = [30, [(size - 285) >> 8, (size - 285) & 0xff]];
  else [sizeBits, sizeBytes] = [31, [(size - 65821) >> 16, ((size - 65821) >> 8) & 0xff, (size - 65821) & 0xff]];
  const head = type <= 7 ? [(type << 5) | sizeBits] : [sizeBits, type - 7];
  return Buffer.from([...head, ...sizeBytes]);
}

function unsigned(type: number, value: number | bigint, maxBytes: number): Buffer {
  let rest = BigInt(value);
  if (rest < 0n || rest >= 1n << BigInt(maxBytes * 8)) throw new RangeError(`${value} does not fit ${maxBytes} bytes`);
  const bytes: number[] = [];
  while (rest > 0n) {
    bytes.unshift(Number(rest & 0xffn));
    rest >>= 8n;
  }
  return Buffer.concat([control(type, bytes.length), Buffer.from(bytes)]);
}

export function encode(value: MmdbValue): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(TYPE.utf8, bytes.length), bytes]);
  }
  if (typeof value === 'boolean') return control(TYPE.boolean, value ? 1 : 0);
  if (typeof value === 'number')
    return encode(Number.isInteger(value) && value >= 0 && value < 2 ** 32 ? new Typed('uint32', value) : double(value));
  if (value instanceof Typed) {
    if (value.type === 'double') {
      const bytes = Buffer.alloc(8);
      bytes.writeDoubleBE(value.value);
      return Buffer.concat([control(TYPE.double, 8), bytes]);
    }
    const [type, size] = { uint16: [TYPE.uint16, 2], uint32: [TYPE.uint32, 4], uint64: [TYPE.uint64, 8] }[value.type];
    return unsigned(type, value.value, size);
  }
  if (Array.isArray(value)) return Buffer.concat([control(TYPE.array, value.length), ...value.map(encode)]);
  const entries = Object.entries(value);
  return Buffer.concat([control(TYPE.map, entries.length), ...entries.flatMap(([key, item]) => [encode(key), encode(item)])]);
}

/** The network's address bits and prefix length, in a tree of `ipVersion`. */
function networkBits(cidr: string, ipVersion: 4 | 6): { bits: number[]; prefix: number } {
  const [address, length] = cidr.split('/');
  const prefix = Number(length);
  if (isIPv4(address)) {
    if (!(prefix >= 0 && prefix <= 32)) throw new Error(`bad prefix in ${cidr}`);
    const bits = address.split('.').flatMap((octet) => byteBits(Number(octet)));
    return ipVersion === 4 ? { bits, prefix } : { bits: [...Array(96).fill(0), ...bits], prefix: 96 + prefix };
  }
  if (!isIPv6(address) || ipVersion === 4) throw new Error(`${cidr} does not fit an IPv${ipVersion} tree`);
  if (!(prefix >= 0 && prefix <= 128)) throw new Error(`bad prefix in ${cidr}`);
  const [head, tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const bits = groups.flatMap((group) => {
    const n = Number.parseInt(group, 16);
    return [...byteBits(n >> 8), ...byteBits(n & 0xff)];
  });
  return { bits, prefix };
}

const byteBits = (byte: number) => Array.from({ length: 8 }, (_, i) => (byte >> (7 - i)) & 1);

interface TreeNode {
  records: [Slot, Slot];
}
type Slot = { node: TreeNode } | { data: number } | undefined;

/** A MaxMind DB file holding `networks`. */
export function writeMmdb(networks: MmdbNetwork[], options: MmdbOptions = {}): Buffer {
  const ipVersion = options.ipVersion ?? 6;
  const recordSize = options.recordSize ?? 24;

  // The data section: each distinct record once.
  const offsets = new Map<string, number>();
  const chunks: Buffer[] = [];
  let dataSize = 0;
  const dataOffset = (data: MmdbValue) => {
    const bytes = encode(data);
    const key = createHash('sha256').update(bytes).digest('hex');
    let offset = offsets.get(key);
    if (offset === undefined) {
      offset = dataSize;
      offsets.set(key, offset);
      chunks.push(bytes);
      dataSize += bytes.length;
    }
    return offset;
  };

  const root: TreeNode = { records: [undefined, undefined] };
  for (const { network, data } of networks) {
    const { bits, prefix } = networkBits(network, ipVersion);
    if (prefix === 0) throw new Error('a network needs at least one bit of prefix');
    const offset = dataOffset(data);
    let node = root;
    for (let depth = 0; depth < prefix - 1; depth++) {
      const bit = bits[depth];
      const slot = node.records[bit];
      if (slot && 'node' in slot) node = slot.node;
      else {
        // A broader network (or nothing) was here: both halves keep it, and we go down one.
        const split: TreeNode = { records: [slot, slot] };
        node.records[bit] = { node: split };
        node = split;
      }
    }
    node.records[bits[prefix - 1]] = { data: offset };
  }

  // Nodes are numbered breadth-first from the root (node 0).
  const order: TreeNode[] = [root];
  for (let i = 0; i < order.length; i++) for (const slot of order[i].records) if (slot && 'node' in slot) order.push(slot.node);
  const number = new Map(order.map((node, i) => [node, i]));
  const nodeCount = order.length;
  const recordValue = (slot: Slot) => {
    if (!slot) return nodeCount;
    if ('node' in slot) return number.get(slot.node) as number;
    return nodeCount + 16 + slot.data;
  };

  const nodeBytes = recordSize / 4;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  order.forEach((node, i) => {
    const [left, right] = node.records.map(recordValue);
    if (Math.max(left, right) >= 2 ** recordSize) throw new RangeError(`the tree does not fit ${recordSize}-bit records`);
    const at = i * nodeBytes;
    if (recordSize === 24) {
      tree.writeUIntBE(left, at, 3);
      tree.writeUIntBE(right, at + 3, 3);
    } else if (recordSize === 28) {
      tree.writeUIntBE(left & 0xffffff, at, 3);
      tree[at + 3] = (((left >>> 24) & 0x0f) << 4) | ((right >>> 24) & 0x0f);
      tree.writeUIntBE(right & 0xffffff, at + 4, 3);
    } else {
      tree.writeUInt32BE(left, at);
      tree.writeUInt32BE(right, at + 4);
    }
  });

  const metadata = encode({
    node_count: nodeCount,
    record_size: uint16(recordSize),
    ip_version: uint16(ipVersion),
    database_type: options.databaseType ?? 'GeoLite2-City',
    languages: options.languages ?? ['en'],
    binary_format_major_version: uint16(2),
    binary_format_minor_version: uint16(0),
    build_epoch: uint64(options.buildEpoch ?? Math.floor(Date.now() / 1000)),
    description: { en: options.description ?? 'Gatehouse test database' },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...chunks, METADATA_MARKER, metadata]);
}

/** A record shaped like GeoLite2-City's (the fields Gatehouse reads, and a few beside them). */
export function cityRecord(place: { country: string; latitude: number; longitude: number; city?: string }): MmdbValue {
  return {
    ...(place.city ? { city: { names: { en: place.city } } } : {}),
    country: { iso_code: place.country, names: { en: place.country } },
    location: { accuracy_radius: uint16(20), latitude: double(place.latitude), longitude: double(place.longitude) },
    registered_country: { iso_code: place.country, names: { en: place.country } },
  };
}

/** A record shaped like GeoLite2-Country's: no location. */
export function countryRecord(country: string): MmdbValue {
  return { country: { iso_code: country, names: { en: country } }, registered_country: { iso_code: country, names: { en: country } } };
}

/** Writes the database to a file of its own in a new temporary directory; returns its path. */
export function writeMmdbFile(networks: MmdbNetwork[], options: MmdbOptions = {}): string {
  const path = join(mkdtempSync(join(tmpdir(), 'gatehouse-geoip-')), `${options.databaseType ?? 'GeoLite2-City'}.mmdb`);
  writeFileSync(path, writeMmdb(networks, options));
  return path;
}

// A small world for the tests: documentation and benchmark ranges placed in cities, so a test
// names a place by its address. Paris–Lyon is under 500 km; Paris–Berlin about 880 km.
export const PLACES = {
  paris: { network: '192.0.2.0/24', ip: '192.0.2.10', country: 'FR', latitude: 48.8566, longitude: 2.3522, city: 'Paris' },
  lyon: { network: '198.51.100.0/24', ip: '198.51.100.20', country: 'FR', latitude: 45.764, longitude: 4.8357, city: 'Lyon' },
  berlin: { network: '203.0.113.0/24', ip: '203.0.113.30', country: 'DE', latitude: 52.52, longitude: 13.405, city: 'Berlin' },
  newYork: { network: '198.18.0.0/15', ip: '198.18.4.40', country: 'US', latitude: 40.7128, longitude: -74.006, city: 'New York' },
  tokyo: { network: '2001:db8::/32', ip: '2001:db8:1:2::50', country: 'JP', latitude: 35.6762, longitude: 139.6503, city: 'Tokyo' },
} as const;

/** A City database of PLACES, written to a temporary file. */
export function testCityDatabase(options: MmdbOptions = {}): string {
  return writeMmdbFile(
    Object.values(PLACES).map((place) => ({ network: place.network, data: cityRecord(place) })),
    options,
  );
}
