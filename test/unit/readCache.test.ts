// The short-lived read cache: hits within its lifetime, never caches a miss, forgets on demand.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReadCache } from '../../src/db/readCache.ts';

describe('read cache', () => {
  it('serves a value from memory until told to forget it', async () => {
    const cache = new ReadCache<string>();
    let loads = 0;
    const load = async () => `value-${++loads}`;
    assert.equal(await cache.get('a', load), 'value-1');
    assert.equal(await cache.get('a', load), 'value-1');
    cache.forget('a');
    assert.equal(await cache.get('a', load), 'value-2');
    cache.clear();
    assert.equal(await cache.get('a', load), 'value-3');
  });

  it('does not remember a miss, so a row created meanwhile is found', async () => {
    const cache = new ReadCache<string>();
    let row: string | undefined;
    assert.equal(await cache.get('b', async () => row), undefined);
    row = 'created';
    assert.equal(await cache.get('b', async () => row), 'created');
  });

  it('reloads once the lifetime has passed', async (t) => {
    t.mock.timers.enable({ apis: ['Date'] });
    const cache = new ReadCache<number>();
    let loads = 0;
    await cache.get('c', async () => ++loads);
    t.mock.timers.tick(4_000);
    assert.equal(await cache.get('c', async () => ++loads), 1);
    t.mock.timers.tick(2_000);
    assert.equal(await cache.get('c', async () => ++loads), 2);
  });
});
