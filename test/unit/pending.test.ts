// The table of routed requests awaiting their end: bounded by capacity (the oldest goes)
// and by time (an entry neither ended nor refreshed within the TTL goes), each drop reported
// once, so a lost end can never hold an endpoint's in-flight slot for good.
import { describe, expect, it } from 'vitest';
import { PendingTable } from '../../src/router/pending.js';

function table(capacity: number, ttl: number) {
  const dropped: string[] = [];
  return { t: new PendingTable<string>(capacity, ttl, (v) => dropped.push(v)), dropped };
}

describe('PendingTable', () => {
  it('take returns an entry once; unknown keys are undefined', () => {
    const { t, dropped } = table(10, 100);
    t.add('a', 'A', 0);
    expect(t.take('a')).toBe('A');
    expect(t.take('a')).toBeUndefined();
    expect(dropped).toEqual([]);
  });

  it('drops the oldest entry past capacity', () => {
    const { t, dropped } = table(2, 1e9);
    t.add('a', 'A', 0);
    t.add('b', 'B', 1);
    t.add('c', 'C', 2);
    expect(dropped).toEqual(['A']);
    expect(t.size).toBe(2);
  });

  it('expires entries untouched for the TTL; a touch starts the clock again', () => {
    const { t, dropped } = table(10, 100);
    t.add('a', 'A', 0);
    t.add('b', 'B', 10);
    t.add('c', 'C', 20);
    expect(t.touch('a', 90)).toBe('A');
    t.expire(150);
    expect(dropped).toEqual(['B', 'C']);
    t.expire(190);
    expect(dropped).toEqual(['B', 'C']);
    t.expire(191);
    expect(dropped).toEqual(['B', 'C', 'A']);
    expect(t.touch('zzz', 200)).toBeUndefined();
  });

  it('a key added twice replaces (and drops) the old entry', () => {
    const { t, dropped } = table(10, 100);
    t.add('a', 'A1', 0);
    t.add('a', 'A2', 1);
    expect(dropped).toEqual(['A1']);
    expect(t.take('a')).toBe('A2');
  });
});
