// Publisher → subscriber over real ZMQ sockets on loopback (ephemeral ports): Stored / Removed /
// Cleared with the hashes of real token ids, a sequence gap, and a replay that closes one.
// Every wait is bounded; sockets are closed in afterEach.
import { afterEach, describe, expect, it } from 'vitest';
import { KvEventsPublisher } from '../../src/tools/sim/kv-events-publisher.js';
import { Router } from 'zeromq';
import { KvEventSubscriber } from '../../src/fleet/kv-events/subscriber.js';
import { requestReplay } from '../../src/fleet/kv-events/replay-client.js';
import { encodeSeq } from '../../src/fleet/kv-events/wire.js';
import type { KvEventHandlers } from '../../src/fleet/kv-events/replica-stream.js';
import { blockHashChain, externalBlockHash, low64 } from '../../src/fleet/kv-events/block-hash.js';
import { bundledTokenizerPath, loadTokenizer } from '../../src/fleet/kv-events/tokenizer.js';

type Seen = { kind: string; hashes: bigint[]; parent?: bigint | null; tokens?: number };

function collector() {
  const seen: Seen[] = [];
  const reliability: boolean[] = [];
  const handlers: KvEventHandlers = {
    onStored: (_ep, hashes, parent, tokens) => seen.push({ kind: 'stored', hashes: [...hashes], parent, tokens }),
    onRemoved: (_ep, hashes) => seen.push({ kind: 'removed', hashes: [...hashes] }),
    onCleared: () => seen.push({ kind: 'cleared', hashes: [] }),
    onReliability: (_ep, ok) => reliability.push(ok),
  };
  return { seen, reliability, handlers };
}

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function pair(o: { replay: boolean; topic?: string }) {
  const pub = await KvEventsPublisher.bind({ topic: o.topic ?? 'kv@r1', ...(o.replay ? { replayAddress: 'auto' } : {}) });
  cleanup.push(() => pub.close());
  const c = collector();
  const sub = new KvEventSubscriber(c.handlers, { topic: o.topic ?? 'kv@r1', replayTimeoutMs: 2_000 });
  cleanup.push(() => sub.close());
  sub.add({ endpoint: 'r1', address: pub.address, ...(pub.replayAddress === null ? {} : { replayAddress: pub.replayAddress }) });
  await until(() => sub.status('r1')?.connected === true, 'connection');
  await new Promise((r) => setTimeout(r, 150)); // the subscription reaches the PUB side
  return { pub, sub, ...c };
}

describe('KV events over ZMQ (loopback)', () => {
  it('delivers Stored / Removed / Cleared with the hashes of the prompt tokens', async () => {
    const { pub, sub, seen, reliability } = await pair({ replay: false });
    const ids = loadTokenizer(bundledTokenizerPath()).encode('You are a helpful assistant. '.repeat(12));
    const digests = blockHashChain(ids, { blockSize: 16, seed: '0' });
    expect(digests.length).toBeGreaterThanOrEqual(4);
    const wire = digests.map((d) => externalBlockHash(d, 'int'));
    await pub.stored(wire.slice(0, 2), null, ids.slice(0, 32), 16);
    await pub.stored(digests.slice(2, 4), digests[1] ?? null, ids.slice(32, 64), 16); // bytes form
    await pub.removed([wire[3] ?? 0n]);
    await pub.cleared();
    await until(() => seen.length === 4, 'four events');
    expect(seen).toEqual([
      { kind: 'stored', hashes: digests.slice(0, 2).map(low64), parent: null, tokens: 32 },
      { kind: 'stored', hashes: digests.slice(2, 4).map(low64), parent: low64(digests[1] as Uint8Array), tokens: 32 },
      { kind: 'removed', hashes: [low64(digests[3] as Uint8Array)] },
      { kind: 'cleared', hashes: [] },
    ]);
    expect(sub.status('r1')).toMatchObject({ reliable: true, lastSeq: 3, batches: 4, gaps: 0, connected: true });
    expect(reliability).toEqual([true]);
    expect(sub.isFresh('r1', { now: Date.now(), maxSilenceMs: 1_000, busySince: Date.now() - 5_000 })).toBe(true);
  });

  it('detects a sequence gap and marks the replica unreliable until AllBlocksCleared', async () => {
    const { pub, sub, seen } = await pair({ replay: false });
    await pub.stored([1n], null, [1, 2], 2);
    pub.skipSequence(2);
    await pub.stored([2n], 1n, [3, 4], 2);
    await until(() => seen.length === 2, 'two stored events');
    expect(sub.status('r1')).toMatchObject({ reliable: false, gaps: 1, lastSeq: 3 });
    expect(sub.isFresh('r1', { now: Date.now(), maxSilenceMs: 1_000 })).toBe(false);
    await pub.cleared();
    await until(() => sub.status('r1')?.reliable === true, 'reliable after AllBlocksCleared');
  });

  it('closes a gap through the replay socket and stays reliable', async () => {
    const { pub, sub, seen } = await pair({ replay: true });
    await pub.stored([10n], null, [1, 2], 2);
    pub.loseNext(2); // numbered and buffered for replay, never sent on the PUB socket
    await pub.stored([11n], 10n, [3, 4], 2);
    await pub.stored([12n], 11n, [5, 6], 2);
    await pub.stored([13n], 12n, [7, 8], 2);
    await until(() => seen.length === 4, 'four stored events, two of them replayed');
    expect(seen.map((s) => s.hashes[0])).toEqual([10n, 11n, 12n, 13n]);
    expect(sub.status('r1')).toMatchObject({ reliable: true, gaps: 1, replays: 1, lastSeq: 3, replaying: false });
  });

  it('ignores other topics and reconnects to a publisher that comes back on the same port', async () => {
    const wrongTopic = await KvEventsPublisher.bind({ topic: 'kv@r2' });
    const address = wrongTopic.address;
    const c = collector();
    const sub = new KvEventSubscriber(c.handlers, { topic: 'kv@r1', reconnectIntervalMs: 50, reconnectMaxIntervalMs: 100 });
    cleanup.push(() => sub.close());
    sub.add({ endpoint: 'r1', address });
    await until(() => sub.status('r1')?.connected === true, 'connection');
    await new Promise((r) => setTimeout(r, 150));
    await wrongTopic.stored([1n], null, [1, 2], 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(c.seen).toEqual([]);
    await wrongTopic.close();
    await until(() => sub.status('r1')?.connected === false, 'disconnect');
    const again = await KvEventsPublisher.bind({ topic: 'kv@r1', address });
    cleanup.push(() => again.close());
    await until(() => sub.status('r1')?.connected === true, 'reconnection');
    await new Promise((r) => setTimeout(r, 150));
    await again.stored([99n], null, [1, 2], 2);
    await until(() => c.seen.length === 1, 'the event after reconnecting');
    expect(c.seen[0]?.hashes).toEqual([99n]);
    expect(sub.status('r1')).toMatchObject({ reliable: true, lastSeq: 0 });
  });

  it('reads replies of earlier vLLM releases (no topic frame) and stops at the end marker', async () => {
    const router = new Router({ linger: 0 });
    await router.bind('tcp://127.0.0.1:*');
    cleanup.push(() => Promise.resolve(router.close()));
    const serve = (async () => {
      const [id, empty, start] = await router.receive();
      if (id === undefined || empty?.length !== 0 || start?.length !== 8) throw new Error('bad replay request');
      const from = Number(start.readBigUInt64BE());
      for (let seq = from; seq < 5; seq++) await router.send([id, '', encodeSeq(seq), Buffer.from([seq])]);
      await router.send([id, '', Buffer.alloc(8, 0xff), '']);
    })();
    const r = await requestReplay(router.lastEndpoint ?? '', 2, { timeoutMs: 2_000, maxFrames: 100 });
    await serve;
    expect(r).toMatchObject({ complete: true, error: null });
    expect(r.frames.map((f) => [f.seq, f.payload[0]])).toEqual([
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
  });

  it('a replay address that never answers times out without an end marker', async () => {
    const router = new Router({ linger: 0 });
    await router.bind('tcp://127.0.0.1:*');
    cleanup.push(() => Promise.resolve(router.close()));
    const t0 = Date.now();
    const r = await requestReplay(router.lastEndpoint ?? '', 0, { timeoutMs: 200, maxFrames: 10 });
    expect(r.complete).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});
