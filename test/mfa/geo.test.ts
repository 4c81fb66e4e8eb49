// The GeoIP database of adaptive MFA (src/mfa/geo.ts), on MaxMind DB files the test writer makes:
// where an address is (City: country and coordinates; Country: the country only), nothing for an
// address the file does not list, a private one or no address at all, and never an exception;
// the file read once; GEOIP_DATABASE checked at start with a message naming the file and what is
// wrong with it; and the rules that need it refused without it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { distanceKm, geoDatabase } from '../../src/mfa/geo.ts';
import { countryRecord, PLACES, testCityDatabase, writeMmdb, writeMmdbFile } from '../helpers/mmdbWriter.ts';

const SECRET_KEY = 's'.repeat(40);

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ SECRET_KEY, ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('GeoIP database', () => {
  const city = testCityDatabase();

  it('places an address of a City database: its country and coordinates', () => {
    const { locate } = geoDatabase(city);
    const { paris, tokyo } = PLACES;
    assert.deepEqual(locate(paris.ip), { country: 'FR', latitude: paris.latitude, longitude: paris.longitude });
    assert.deepEqual(locate('192.0.2.254'), locate(paris.ip), 'any address of the network');
    assert.deepEqual(locate(`::ffff:${paris.ip}`), locate(paris.ip), 'IPv4-mapped, as a dual-stack socket reports it');
    assert.deepEqual(locate(tokyo.ip), { country: 'JP', latitude: tokyo.latitude, longitude: tokyo.longitude });
    assert.equal(geoDatabase(city).databaseType, 'GeoLite2-City');
  });

  it('has no place for an address it does not list, a private one, or something that is no address', () => {
    const { locate } = geoDatabase(city);
    for (const ip of ['8.8.8.8', '10.1.2.3', '192.168.0.1', '127.0.0.1', '::1', 'fe80::1%eth0', '2001:db9::1', '', 'unknown', '999.1.1.1'])
      assert.equal(locate(ip), undefined, ip);
  });

  it('gives only the country from a Country database, and nothing for IPv6 from an IPv4-only one', () => {
    const countries = writeMmdbFile([{ network: '192.0.2.0/24', data: countryRecord('FR') }], {
      databaseType: 'GeoLite2-Country',
      ipVersion: 4,
    });
    const { locate, databaseType } = geoDatabase(countries);
    assert.equal(databaseType, 'GeoLite2-Country');
    assert.deepEqual(locate(PLACES.paris.ip), { country: 'FR' });
    assert.equal(locate('2001:db8::1'), undefined, 'an IPv4 tree is not walked with an IPv6 address');
    assert.equal(locate('::'), undefined);
  });

  it('reads the file once: later lookups need it no more', () => {
    const path = testCityDatabase();
    const database = geoDatabase(path);
    rmSync(path);
    assert.equal(geoDatabase(path), database, 'the same database for the same path');
    assert.equal(database.locate(PLACES.berlin.ip)?.country, 'DE');
  });

  it('measures great-circle distances', () => {
    const km = (a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }) => Math.round(distanceKm(a, b));
    assert.equal(km(PLACES.paris, PLACES.paris), 0);
    assert.equal(km(PLACES.paris, PLACES.lyon), 391);
    assert.equal(km(PLACES.paris, PLACES.berlin), 877);
    assert.equal(km(PLACES.paris, PLACES.newYork), 5837);
    assert.equal(km({ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 180 }), 20015, 'half the equator');
  });
});

describe('GEOIP_DATABASE and the rules that need it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-geoip-config-'));
  const city = testCityDatabase();

  it('takes a MaxMind DB file, and hands it to the place rules', () => {
    const config = loadConfig({ SECRET_KEY, GEOIP_DATABASE: city, MFA_RISK_RULES: 'new_device,new_country,impossible_travel' });
    assert.equal(config.geoipDatabase, city);
    assert.deepEqual(config.mfaRiskPolicy, { rules: ['new_device', 'new_country', 'impossible_travel'], geoipDatabase: city });
    assert.equal(
      loadConfig({ SECRET_KEY, GEOIP_DATABASE: city }).geoipDatabase,
      city,
      'also without the place rules: browsers remember places',
    );
    assert.equal(loadConfig({ SECRET_KEY }).geoipDatabase, undefined);
  });

  it('names the file and what is wrong with it', () => {
    const missing = join(dir, 'GeoLite2-City.mmdb');
    assert.deepEqual(problems({ GEOIP_DATABASE: missing }), [`GEOIP_DATABASE: ${missing} does not exist`]);

    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'GeoLite2-City, see https://dev.maxmind.com\n');
    assert.deepEqual(problems({ GEOIP_DATABASE: text }), [`GEOIP_DATABASE: ${text} is not a MaxMind DB (.mmdb) file`]);

    const packed = join(dir, 'GeoLite2-City.mmdb.gz');
    writeFileSync(packed, gzipSync(writeMmdb([{ network: '192.0.2.0/24', data: countryRecord('FR') }])));
    assert.deepEqual(problems({ GEOIP_DATABASE: packed }), [`GEOIP_DATABASE: ${packed} is gzip-compressed: unpack the .mmdb file from it`]);

    assert.deepEqual(problems({ GEOIP_DATABASE: dir }), [`GEOIP_DATABASE: ${dir} is a directory, not a file`]);

    // A tree cut off after its first bytes: the metadata is there, the rest is not.
    const whole = writeMmdb([{ network: '192.0.2.0/24', data: countryRecord('FR') }]);
    const marker = whole.lastIndexOf(Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'));
    const cut = join(dir, 'cut.mmdb');
    writeFileSync(cut, Buffer.concat([whole.subarray(0, 12), whole.subarray(marker)]));
    assert.deepEqual(problems({ GEOIP_DATABASE: cut }), [
      `GEOIP_DATABASE: ${cut} is a damaged MaxMind DB file (its search tree is cut short)`,
    ]);
  });

  it('refuses new_country and impossible_travel without GEOIP_DATABASE, with every other problem at once', () => {
    assert.deepEqual(problems({ MFA_RISK_RULES: 'new_device,new_country' }), ['MFA_RISK_RULES: new_country needs GEOIP_DATABASE']);
    assert.deepEqual(problems({ MFA_RISK_RULES: 'impossible_travel', GEOIP_DATABASE: '' }), [
      'MFA_RISK_RULES: impossible_travel needs GEOIP_DATABASE',
    ]);
    assert.deepEqual(problems({ MFA_RISK_RULES: 'new_country,impossible_travel', BCRYPT_COST: '99' }), [
      'BCRYPT_COST: BCRYPT_COST must be at most 15',
      'MFA_RISK_RULES: new_country needs GEOIP_DATABASE',
      'MFA_RISK_RULES: impossible_travel needs GEOIP_DATABASE',
    ]);
    const missing = join(dir, 'absent.mmdb');
    assert.deepEqual(problems({ MFA_RISK_RULES: 'new_country', GEOIP_DATABASE: missing }), [`GEOIP_DATABASE: ${missing} does not exist`]);
    assert.deepEqual(loadConfig({ SECRET_KEY, MFA_RISK_RULES: 'always' }).mfaRiskPolicy, 'always', 'always needs no database');
  });
});
