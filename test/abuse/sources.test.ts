// Which bucket an address counts in: IPv4 per address, IPv6 per /64.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sourceOf } from '../../src/abuse/index.ts';

describe('rate-limit sources', () => {
  it('counts an IPv4 address on its own, also when written IPv4-mapped', () => {
    assert.equal(sourceOf('203.0.113.7'), '203.0.113.7');
    assert.equal(sourceOf('::ffff:203.0.113.7'), '203.0.113.7');
    assert.notEqual(sourceOf('203.0.113.7'), sourceOf('203.0.113.8'));
  });

  it('counts every IPv6 address of one /64 together, however it is written', () => {
    const bucket = '2001:0db8:0001:0002::/64';
    assert.equal(sourceOf('2001:db8:1:2::1'), bucket);
    assert.equal(sourceOf('2001:db8:1:2:ffff:ffff:ffff:ffff'), bucket);
    assert.equal(sourceOf('2001:DB8:1:2:0:0:0:9'), bucket);
    assert.equal(sourceOf('2001:db8:1:2::1%eth0'), bucket);
    assert.notEqual(sourceOf('2001:db8:1:3::1'), bucket);
  });

  it('expands a short prefix and an embedded IPv4 tail', () => {
    assert.equal(sourceOf('::1'), '0000:0000:0000:0000::/64');
    assert.equal(sourceOf('2001:db8::'), '2001:0db8:0000:0000::/64');
    assert.equal(sourceOf('64:ff9b::192.0.2.1'), '0064:ff9b:0000:0000::/64');
  });
});
