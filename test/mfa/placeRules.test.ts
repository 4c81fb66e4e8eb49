// The adaptive-MFA rules that compare places (src/mfa/risk.ts: new_country, impossible_travel),
// on the database with a GeoIP database from the test writer: what a remembered browser keeps of
// where it was, a country none of the account's browsers was seen in, and a trip too fast to be
// real from the most recently seen one, time moved by rewriting last_seen_at (no sleeping).
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../../src/accounts/index.ts';
import { geoDatabase, type Locate } from '../../src/mfa/geo.ts';
import { newDeviceCookie, recognisedDevice, rememberDevice } from '../../src/mfa/devices.ts';
import { type RiskRule, riskSignals } from '../../src/mfa/risk.ts';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { operator } from '../helpers/fixtures.ts';
import { countryRecord, PLACES, testCityDatabase, writeMmdbFile } from '../helpers/mmdbWriter.ts';

const CITY = testCityDatabase();
const { paris, lyon, berlin, newYork, tokyo } = PLACES;
const UNLISTED = '8.8.8.8';

describe('adaptive MFA by place', () => {
  let database: TestDatabase;
  let userId: string;
  const { locate } = geoDatabase(CITY);

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.dispose();
  });
  beforeEach(async () => {
    await truncateAll(database);
    userId = (await createUser(operator(database), { email: 'wanda@example.com' }, 4)).id;
  });

  /** A browser finishing a multi-factor sign-in from `ip` (null `where`: no GeoIP database); returns its device cookie. */
  async function remember(ip: string, cookie = newDeviceCookie(), where: Locate | null = locate): Promise<string> {
    await rememberDevice(database.db, { userId, cookie, userAgent: undefined, ip, locate: where ?? undefined });
    return cookie;
  }

  const signals = (rules: RiskRule[], ip: string, deviceCookie?: string, geoipDatabase = CITY) =>
    riskSignals(database.db, { rules, geoipDatabase }, { userId, deviceCookie, ip });

  /** Moves the last sighting of the browser with this cookie (of every browser, without one) `hours` back. */
  async function setSeen(cookie: string | undefined, hours: number) {
    const device = cookie ? await recognisedDevice(database.db, userId, cookie) : undefined;
    await database
      .db('known_devices')
      .where('user_id', userId)
      .modify((query) => {
        if (cookie) query.where('id', device?.id as string);
      })
      .update({ last_seen_at: database.db.raw(`now() - make_interval(secs => ${hours * 3600})`) });
  }

  it('keeps where a remembered browser was last seen, and forgets it when the address cannot be placed', async () => {
    const cookie = await remember(paris.ip);
    const row = () => database.db('known_devices').where('user_id', userId).first('country', 'latitude', 'longitude');
    assert.deepEqual({ ...(await row()) }, { country: 'FR', latitude: paris.latitude, longitude: paris.longitude });
    await remember(tokyo.ip, cookie);
    assert.deepEqual({ ...(await row()) }, { country: 'JP', latitude: tokyo.latitude, longitude: tokyo.longitude });
    await remember(UNLISTED, cookie);
    assert.deepEqual({ ...(await row()) }, { country: null, latitude: null, longitude: null }, 'no longer known to be in Tokyo');
    await remember(berlin.ip, cookie);
    await remember(paris.ip, cookie, null);
    assert.deepEqual(
      { ...(await row()) },
      { country: 'DE', latitude: berlin.latitude, longitude: berlin.longitude },
      'without GeoIP: untouched',
    );
  });

  describe('new_country', () => {
    it('trips for a country none of the remembered browsers was seen in, not for one they were', async () => {
      await remember(paris.ip);
      await remember(newYork.ip);
      assert.deepEqual(await signals(['new_country'], lyon.ip), [], 'France, from another city and network');
      assert.deepEqual(await signals(['new_country'], `::ffff:${paris.ip}`), []);
      assert.deepEqual(await signals(['new_country'], newYork.ip), []);
      assert.deepEqual(await signals(['new_country'], berlin.ip), ['new_country']);
      assert.deepEqual(await signals(['new_country'], tokyo.ip), ['new_country']);
    });

    it('does not trip where the country is unknown, and trips anywhere known before any browser was placed', async () => {
      await remember(paris.ip, undefined, null); // remembered before GEOIP_DATABASE was set
      for (const ip of [UNLISTED, '10.0.0.8', '::1']) assert.deepEqual(await signals(['new_country'], ip), [], ip);
      assert.deepEqual(await signals(['new_country'], paris.ip), ['new_country'], 'no country seen yet for the account');
    });

    it('works from a Country database', async () => {
      const countries = writeMmdbFile(
        [paris, lyon, berlin].map((place) => ({ network: place.network, data: countryRecord(place.country) })),
        { databaseType: 'GeoLite2-Country' },
      );
      await remember(paris.ip, undefined, geoDatabase(countries).locate);
      const rules: RiskRule[] = ['new_country', 'impossible_travel'];
      assert.deepEqual(await signals(rules, lyon.ip, undefined, countries), []);
      assert.deepEqual(await signals(rules, berlin.ip, undefined, countries), ['new_country'], 'and no travel: no coordinates');
    });
  });

  describe('impossible_travel', () => {
    it('trips for a sign-in far away a moment after the last one, not once there was time to travel', async () => {
      await remember(paris.ip);
      assert.deepEqual(await signals(['impossible_travel'], newYork.ip), ['impossible_travel']);
      assert.deepEqual(await signals(['impossible_travel'], berlin.ip), ['impossible_travel'], '877 km in moments');
      // Paris to New York is 5837 km: 5 hours is 1167 km/h, 7 hours 834 km/h.
      await setSeen(undefined, 5);
      assert.deepEqual(await signals(['impossible_travel'], newYork.ip), ['impossible_travel']);
      await setSeen(undefined, 7);
      assert.deepEqual(await signals(['impossible_travel'], newYork.ip), []);
      assert.deepEqual(await signals(['impossible_travel'], berlin.ip), []);
    });

    it('ignores hops under 500 km, however quick, and places it cannot tell', async () => {
      await remember(paris.ip);
      assert.deepEqual(await signals(['impossible_travel'], lyon.ip), [], '391 km: within what GeoIP can tell apart');
      assert.deepEqual(await signals(['impossible_travel'], paris.ip), []);
      for (const ip of [UNLISTED, '192.168.1.20']) assert.deepEqual(await signals(['impossible_travel'], ip), [], ip);
    });

    it('measures from the most recently seen browser with coordinates', async () => {
      const parisBrowser = await remember(paris.ip);
      const travelling = await remember(newYork.ip);
      await setSeen(parisBrowser, 10);
      await setSeen(travelling, 1);
      assert.deepEqual(await signals(['impossible_travel'], paris.ip), ['impossible_travel'], 'in New York an hour ago');
      await setSeen(travelling, 7);
      assert.deepEqual(await signals(['impossible_travel'], paris.ip), [], 'in New York 7 hours ago');
      // The New York browser, seen since from an address without a place, no longer counts.
      await remember(UNLISTED, travelling);
      await setSeen(parisBrowser, 0);
      assert.deepEqual(await signals(['impossible_travel'], newYork.ip), ['impossible_travel'], 'measured from Paris, just now');
    });

    it('does not trip for an account with no placed browser', async () => {
      assert.deepEqual(await signals(['impossible_travel'], tokyo.ip), []);
      await remember(paris.ip, undefined, null);
      assert.deepEqual(await signals(['impossible_travel'], tokyo.ip), []);
    });
  });

  it('reports every rule that trips, in the configured order, beside the others', async () => {
    const cookie = await remember(paris.ip);
    const rules: RiskRule[] = ['new_device', 'new_network', 'new_country', 'impossible_travel'];
    assert.deepEqual(await signals(rules, paris.ip, cookie), []);
    assert.deepEqual(await signals(rules, lyon.ip, cookie), ['new_network']);
    assert.deepEqual(await signals(rules, berlin.ip, cookie), ['new_network', 'new_country', 'impossible_travel']);
    assert.deepEqual(await signals(rules, berlin.ip), ['new_device', 'new_network', 'new_country', 'impossible_travel']);
  });
});
