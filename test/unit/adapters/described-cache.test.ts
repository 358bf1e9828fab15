import { describe, expect, it } from 'vitest';

import { DescribedCache } from '../../../functions/adapters/s3/described-cache.js';
import type { ListedObject } from '../../../functions/core/backend.js';

const listed = (key: string, etag = '"e"'): ListedObject => ({
  key,
  size: 1,
  etag,
  lastModified: new Date(1_000),
});
const described = (key: string): ListedObject => ({
  ...listed(key),
  metadata: { headers: {}, user: { key }, internal: {} },
});

describe('the described-object cache', () => {
  it('finds a version by bucket, key, ETag, size and last-modified only', () => {
    const cache = new DescribedCache(10);
    cache.set('b', listed('k'), described('k'));
    expect(cache.get('b', listed('k'))?.metadata?.user).toEqual({ key: 'k' });
    expect(cache.get('other', listed('k'))).toBeUndefined();
    expect(cache.get('b', listed('k', '"changed"'))).toBeUndefined();
    expect(cache.get('b', { ...listed('k'), size: 2 })).toBeUndefined();
    expect(cache.get('b', { ...listed('k'), lastModified: new Date(2_000) })).toBeUndefined();
  });

  it('holds at most its capacity, dropping the least recently used first', () => {
    const cache = new DescribedCache(2);
    cache.set('b', listed('one'), described('one'));
    cache.set('b', listed('two'), described('two'));
    expect(cache.get('b', listed('one'))).toBeDefined(); // now the most recent
    cache.set('b', listed('three'), described('three'));
    expect(cache.size).toBe(2);
    expect(cache.get('b', listed('two'))).toBeUndefined();
    expect(cache.get('b', listed('one'))).toBeDefined();
    expect(cache.get('b', listed('three'))).toBeDefined();
  });
});
