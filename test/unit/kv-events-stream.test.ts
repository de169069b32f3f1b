// ReplicaStream without sockets: sequence numbers, gaps, restarts, replay, reliability.
import { describe, expect, it } from 'vitest';
import { ReplicaStream, type KvEventHandlers, type Frame } from '../../src/fleet/kv-events/replica-stream.js';
import { encodeBatch, type KvEvent } from '../../src/fleet/kv-events/wire.js';

function recorder() {
  const log: string[] = [];
  const handlers: KvEventHandlers = {
    onStored: (ep, hashes, parent, tokens, meta) => log.push(`${ep} stored ${hashes.join(',')} parent=${parent ?? '-'} tokens=${tokens} bs=${meta.blockSize}`),
    onRemoved: (ep, hashes) => log.push(`${ep} removed ${hashes.join(',')}`),
    onCleared: (ep) => log.push(`${ep} cleared`),
    onReliability: (ep, ok, why) => log.push(`${ep} ${ok ? 'reliable' : 'unreliable'}: ${why}`),
  };
  return { log, handlers };
}

const stored = (h: number): KvEvent => ({
  type: 'BlockStored',
  blockHashes: [BigInt(h)],
  parentBlockHash: null,
  tokenIds: [1, 2],
  blockSize: 2,
  loraId: null,
  medium: 'GPU',
  loraName: null,
});
const frame = (seq: number, ...events: KvEvent[]): Frame => ({ seq, payload: encodeBatch({ ts: 1, events, dataParallelRank: null }) });

describe('ReplicaStream', () => {
  it('applies a stream followed from seq 0 and stays reliable', () => {
    const { log, handlers } = recorder();
    const s = new ReplicaStream('r1', handlers, { canReplay: false, maxPending: 10, now: () => 42 });
    expect(s.live(frame(0, stored(5)))).toBeNull();
    expect(s.live(frame(1, { type: 'BlockRemoved', blockHashes: [5n], medium: 'GPU' }))).toBeNull();
    expect(log).toEqual(['r1 reliable: stream followed from its first batch', 'r1 stored 5 parent=- tokens=2 bs=2', 'r1 removed 5']);
    expect(s.status()).toMatchObject({ reliable: true, lastSeq: 1, lastBatchAt: 42, batches: 2, gaps: 0 });
  });

  it('a gap without replay makes the state unreliable until AllBlocksCleared', () => {
    const { log, handlers } = recorder();
    const s = new ReplicaStream('r', handlers, { canReplay: false, maxPending: 10 });
    s.live(frame(0));
    s.live(frame(3, stored(7)));
    expect(s.status()).toMatchObject({ reliable: false, gaps: 1, lastSeq: 3 });
    expect(log).toContain('r stored 7 parent=- tokens=2 bs=2'); // still applied
    s.live(frame(4, { type: 'AllBlocksCleared' }));
    expect(s.status().reliable).toBe(true);
    expect(log.slice(-2)).toEqual(['r cleared', 'r reliable: engine cleared its cache']);
  });

  it('joining mid-stream is a gap from 0', () => {
    const { handlers } = recorder();
    const s = new ReplicaStream('r', handlers, { canReplay: false, maxPending: 10 });
    s.live(frame(17));
    expect(s.status()).toMatchObject({ reliable: false, gaps: 1 });
  });

  it('a gap with replay holds live batches, applies the replayed ones in order, and stays reliable', () => {
    const { log, handlers } = recorder();
    const s = new ReplicaStream('r', handlers, { canReplay: true, maxPending: 10 });
    s.live(frame(0, stored(1)));
    expect(s.live(frame(3, stored(4)))).toBe(1);
    expect(s.live(frame(4, stored(5)))).toBeNull(); // held
    expect(s.status().replaying).toBe(true);
    s.replayed([frame(2, stored(3)), frame(1, stored(2)), frame(3, stored(4))], true);
    expect(log.filter((l) => l.includes('stored')).map((l) => l.split(' ')[2])).toEqual(['1', '2', '3', '4', '5']);
    expect(s.status()).toMatchObject({ reliable: true, replaying: false, lastSeq: 4, replays: 1 });
  });

  it('a replay that misses batches (buffer evicted) leaves the state unreliable', () => {
    const { handlers } = recorder();
    const s = new ReplicaStream('r', handlers, { canReplay: true, maxPending: 10 });
    s.live(frame(0));
    s.live(frame(5));
    s.replayed([frame(3), frame(4)], true);
    expect(s.status()).toMatchObject({ reliable: false, lastSeq: 5 });
    s.live(frame(6));
    expect(s.status()).toMatchObject({ reliable: false, lastSeq: 6, gaps: 1 });
  });

  it('a publisher restart clears the replica; seen from seq 0 it is reliable again', () => {
    const { log, handlers } = recorder();
    const s = new ReplicaStream('r', handlers, { canReplay: false, maxPending: 10 });
    s.live(frame(0));
    s.live(frame(1));
    s.live(frame(0, stored(9)));
    expect(log).toContain('r cleared');
    expect(s.status()).toMatchObject({ reliable: true, restarts: 1, lastSeq: 0 });
  });

  it('an undecodable batch makes the state unreliable and is counted', () => {
    const { handlers } = recorder();
    const s = new ReplicaStream('r', handlers, { canReplay: false, maxPending: 10 });
    s.live(frame(0));
    s.live({ seq: 1, payload: new Uint8Array([0xc1]) });
    expect(s.status()).toMatchObject({ reliable: false, decodeErrors: 1, lastSeq: 1 });
    expect(s.status().lastError).toMatch(/undecodable/);
  });
});
