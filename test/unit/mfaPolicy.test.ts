// The pure parts of MFA: authentication levels from amr (and acr requests), the adaptive-MFA
// setting, and how known devices are named and grouped into networks. (The rules that need a
// GeoIP database, and its setting, are in test/mfa/geo.test.ts.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ACR, acrOfAmr, combinedAmr, levelOfAmr, requestedLevel } from '../../src/mfa/levels.ts';
import { DEFAULT_RISK_POLICY, readRiskPolicy } from '../../src/mfa/risk.ts';
import { deviceName } from '../../src/mfa/devices.ts';
import { networkOf } from '../../src/mfa/networks.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('authentication levels', () => {
  it('reads the level a sign-in reached from its amr', () => {
    assert.equal(levelOfAmr([]), 0);
    assert.equal(levelOfAmr(['pwd']), 1);
    assert.equal(levelOfAmr(['otp']), 1, 'a code alone is one factor');
    assert.equal(levelOfAmr(['pwd', 'otp']), 2);
    assert.equal(levelOfAmr(['pwd', 'hwk']), 2, 'a passkey without user verification is possession only');
    assert.equal(levelOfAmr(['hwk', 'user']), 3);
    assert.equal(levelOfAmr(['swk', 'user']), 3);
  });

  it('adds "mfa" to a combined amr only when it took two factors, and never twice', () => {
    assert.deepEqual(combinedAmr([['pwd']]), ['pwd']);
    assert.deepEqual(combinedAmr([['pwd'], ['otp']]), ['pwd', 'otp', 'mfa']);
    assert.deepEqual(combinedAmr([['pwd', 'otp', 'mfa'], ['otp']]), ['pwd', 'otp', 'mfa']);
    assert.equal(acrOfAmr(['pwd', 'hwk', 'user']), ACR.phishingResistant);
    assert.equal(acrOfAmr(['pwd']), ACR.singleFactor);
  });

  it('takes the lowest known level a request names, from acr_values or an acr claim', () => {
    assert.deepEqual(requestedLevel(`${ACR.phishingResistant} ${ACR.multiFactor}`, undefined), { level: 2, essential: false });
    assert.deepEqual(requestedLevel('urn:other:acr', undefined), { level: 0, essential: false }, 'unknown values ask for nothing');
    assert.deepEqual(requestedLevel(undefined, { essential: true, value: ACR.phishingResistant }), { level: 3, essential: true });
    assert.deepEqual(requestedLevel(ACR.singleFactor, { values: [ACR.multiFactor] }), { level: 2, essential: false }, 'the claim wins');
    assert.equal(requestedLevel('http://schemas.openid.net/pape/policies/2007/06/multi-factor', undefined).level, 2);
  });
});

describe('MFA_RISK_RULES', () => {
  it('defaults to new devices and recent failures', () => {
    assert.deepEqual(loadConfig({}).mfaRiskPolicy, DEFAULT_RISK_POLICY);
    assert.deepEqual(DEFAULT_RISK_POLICY, { rules: ['new_device', 'recent_failures'] });
  });

  it('reads "always" or a list of rules, and names what it does not know', () => {
    assert.deepEqual(readRiskPolicy('always'), { policy: 'always' });
    assert.deepEqual(readRiskPolicy(' new_network , new_device,new_device'), { policy: { rules: ['new_network', 'new_device'] } });
    assert.deepEqual(readRiskPolicy('new_country,impossible_travel'), { policy: { rules: ['new_country', 'impossible_travel'] } });
    assert.deepEqual(readRiskPolicy('new_device,geo'), {
      problem:
        'MFA_RISK_RULES must be "always" or a comma-separated list of new_device, new_network, new_country, impossible_travel, recent_failures (not geo)',
    });
    assert.throws(
      () => loadConfig({ MFA_RISK_RULES: 'sometimes' }),
      (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.includes('MFA_RISK_RULES')),
    );
  });
});

describe('known devices', () => {
  it('names a browser the way a person would', () => {
    const firefoxLinux = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
    const chromeMac = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
    const safariIphone =
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
    assert.equal(deviceName(firefoxLinux), 'Firefox on Linux');
    assert.equal(deviceName(chromeMac), 'Chrome on macOS');
    assert.equal(deviceName(safariIphone), 'Safari on iOS');
    assert.equal(deviceName(undefined), 'A browser');
  });

  it('groups addresses into IPv4 /24 and IPv6 /48 networks', () => {
    assert.equal(networkOf('203.0.113.77'), '203.0.113.0/24');
    assert.equal(networkOf('::ffff:203.0.113.9'), '203.0.113.0/24');
    assert.equal(networkOf('2001:db8:abcd:12:1::5'), '2001:0db8:abcd::/48');
  });
});

describe('configuration with a bad port', () => {
  it('reports the port, not a broken URL, while checking where passkeys may be used', () => {
    assert.throws(
      () => loadConfig({ PORT: 'abc' }),
      (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.includes('PORT')),
    );
  });
});
