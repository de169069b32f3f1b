// The hot-path profile's summary (src/tools/bench/cpuprofile-summary.ts) on a hand-made
// V8 profile: start-up left out until the first sample inside a gRPC call, idle apart,
// a builtin's time given to its caller's area, inclusive time per kvfleet function.
import { describe, expect, it } from 'vitest';
import { summariseProfile, type CpuProfile } from '../../src/tools/bench/cpuprofile-summary.js';

const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });

const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 6, 7] },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('handleDataFrame', 'file:///app/node_modules/@grpc/grpc-js/build/src/server-interceptors.js'), children: [4] },
    { id: 4, callFrame: frame('decide', 'file:///app/dist/core/decide.js'), children: [5] },
    { id: 5, callFrame: frame('parse') },
    { id: 6, callFrame: frame('(garbage collector)') },
    { id: 7, callFrame: frame('compileSourceTextModule', 'node:internal/modules/esm/utils') },
  ],
  // start-up (7), then a gRPC call (3), idle, decide, JSON.parse under decide, GC
  samples: [7, 3, 2, 4, 5, 6],
  timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000],
  startTime: 0,
  endTime: 6000,
};

describe('cpuprofile summary', () => {
  it('splits start-up, idle and busy time, and gives builtins to their caller', () => {
    const s = summariseProfile(PROFILE);
    expect([s.startupMs, s.idleMs, s.busyMs]).toEqual([1, 1, 4]);
    expect(s.areas).toEqual([
      { name: 'decide (kvfleet core)', ms: 2, share: 0.5 },
      { name: 'grpc-js', ms: 1, share: 0.25 },
      { name: 'GC', ms: 1, share: 0.25 },
    ]);
    expect(s.inclusive).toEqual([{ name: 'decide dist/core/decide.js:1', ms: 2, share: 0.5 }]);
    expect(s.functions.map((f) => f.name)).toEqual(
      expect.arrayContaining(['decide dist/core/decide.js:1  (decide (kvfleet core))', 'parse [native]  (decide (kvfleet core))']),
    );
  });
});
