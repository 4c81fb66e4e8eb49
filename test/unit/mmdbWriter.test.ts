// The test suite's MaxMind DB writer (test/helpers/mmdbWriter.ts), proved with the real reader
// Gatehouse uses (maxmind 5, mmdb-lib): what goes in comes out, for IPv4 and IPv6 trees and every
// record size, with the metadata a reader checks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type CityResponse, Reader } from 'maxmind';
import { cityRecord, countryRecord, double, PLACES, uint16, uint64, writeMmdb, type MmdbNetwork } from '../helpers/mmdbWriter.ts';

const IPV4_PLACES = Object.values(PLACES).filter((place) => !place.network.includes(':'));
const cities = (places: readonly (typeof PLACES)[keyof typeof PLACES][]): MmdbNetwork[] =>
  places.map((place) => ({ network: place.network, data: cityRecord(place) }));

describe('the test MaxMind DB writer', () => {
  for (const ipVersion of [4, 6] as const) {
    for (const recordSize of [24, 28, 32] as const) {
      it(`writes an IPv${ipVersion} tree with ${recordSize}-bit records that the maxmind reader reads back`, () => {
        const places = ipVersion === 6 ? Object.values(PLACES) : IPV4_PLACES;
        const reader = new Reader<CityResponse>(writeMmdb(cities(places), { ipVersion, recordSize, buildEpoch: 1_800_000_000 }));
        assert.equal(reader.metadata.ipVersion, ipVersion);
        assert.equal(reader.metadata.recordSize, recordSize);
        assert.equal(reader.metadata.binaryFormatMajorVersion, 2);
        assert.equal(reader.metadata.binaryFormatMinorVersion, 0);
        assert.equal(reader.metadata.databaseType, 'GeoLite2-City');
        assert.deepEqual(reader.metadata.languages, ['en']);
        assert.deepEqual(reader.metadata.description, { en: 'Gatehouse test database' });
        assert.equal(reader.metadata.buildEpoch.getTime(), 1_800_000_000_000);
        for (const place of places) {
          const [record, prefix] = reader.getWithPrefixLength(place.ip);
          assert.equal(record?.country?.iso_code, place.country, place.ip);
          assert.equal(record?.city?.names.en, place.city);
          assert.equal(record?.location?.latitude, place.latitude);
          assert.equal(record?.location?.longitude, place.longitude);
          assert.equal(record?.location?.accuracy_radius, 20);
          const length = Number(place.network.split('/')[1]);
          assert.equal(prefix, length, `the network's prefix for ${place.ip}`);
        }
        assert.equal(reader.get('10.1.2.3'), null, 'a private address is not listed');
        assert.equal(reader.get('192.0.3.1'), null, 'nor the network next door');
      });
    }
  }

  it('keeps a broad network around a narrower one inserted after it', () => {
    const reader = new Reader<CityResponse>(
      writeMmdb([
        { network: '100.64.0.0/10', data: countryRecord('NL') },
        { network: '100.64.8.0/24', data: countryRecord('BE') },
      ]),
    );
    assert.equal(reader.get('100.64.8.1')?.country?.iso_code, 'BE');
    assert.equal(reader.get('100.64.9.1')?.country?.iso_code, 'NL');
    assert.equal(reader.get('100.127.255.255')?.country?.iso_code, 'NL');
    assert.equal(reader.get('100.128.0.0'), null);
  });

  it('encodes every value type a GeoIP record uses, at every size of length', () => {
    const long = 'x'.repeat(300);
    const longer = 'y'.repeat(70_000);
    const data = {
      short: 'é',
      medium: 'm'.repeat(100),
      long,
      longer,
      double: double(-33.8688),
      whole: 4_000_000_000,
      small: uint16(65_535),
      big: uint64(2 ** 40),
      yes: true,
      no: false,
      list: ['a', 1, { nested: double(0.5) }],
      empty: {},
    };
    const reader = new Reader<Record<string, unknown> & CityResponse>(writeMmdb([{ network: '192.0.2.0/24', data }]));
    assert.deepEqual(reader.get('192.0.2.1'), {
      short: 'é',
      medium: 'm'.repeat(100),
      long,
      longer,
      double: -33.8688,
      whole: 4_000_000_000,
      small: 65_535,
      big: 2n ** 40n,
      yes: true,
      no: false,
      list: ['a', 1, { nested: 0.5 }],
      empty: {},
    });
  });

  it('points past 16 MiB of data with 28-bit records (their shared nibble), and refuses to with 24', () => {
    // A 16 MiB record first, so the records after it sit at offsets that need more than 24 bits,
    // once in a node's left record and once in its right one.
    const padding = { padding: 'z'.repeat(2 ** 24) };
    const networks = [
      { network: '192.0.2.0/25', data: padding },
      { network: '192.0.2.128/25', data: countryRecord('FR') },
      { network: '198.51.100.0/25', data: countryRecord('DE') },
      { network: '198.51.100.128/25', data: padding },
    ];
    for (const recordSize of [28, 32] as const) {
      const reader = new Reader<CityResponse>(writeMmdb(networks, { recordSize }));
      assert.equal(reader.get('192.0.2.200')?.country?.iso_code, 'FR');
      assert.equal(reader.get('198.51.100.1')?.country?.iso_code, 'DE');
      assert.equal((reader.get('192.0.2.1') as unknown as typeof padding).padding.length, 2 ** 24);
    }
    assert.throws(() => writeMmdb(networks, { recordSize: 24 }), /does not fit 24-bit records/);
  });

  it('stores a record shared by several networks once', () => {
    const paris = cityRecord(PLACES.paris);
    const one = writeMmdb([{ network: '192.0.2.0/24', data: paris }]);
    const two = writeMmdb([
      { network: '192.0.2.0/24', data: paris },
      { network: '198.51.100.0/24', data: paris },
    ]);
    const dataSize = (file: Buffer) => {
      const reader = new Reader(file);
      return file.lastIndexOf(Buffer.from('abcdef4d61784d696e642e636f6d', 'hex')) - reader.metadata.searchTreeSize - 16;
    };
    assert.equal(dataSize(two), dataSize(one));
  });

  it('refuses what a tree cannot hold', () => {
    assert.throws(() => writeMmdb([{ network: '2001:db8::/32', data: 'x' }], { ipVersion: 4 }), /does not fit an IPv4 tree/);
    assert.throws(() => writeMmdb([{ network: '192.0.2.0/33', data: 'x' }]), /bad prefix/);
  });
});
