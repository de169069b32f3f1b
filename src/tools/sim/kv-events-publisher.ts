// vLLM-compatible KV-cache event publisher for the simulated replicas (format: see
// src/fleet/kv-events/wire.ts and docs/kv-events.md).
//   PUB socket, message = [topic, seq (8 bytes big-endian, 0,1,2,…), msgpack KVEventBatch]
//   optional ROUTER replay socket: request [identity, "", start_seq] → one
//   [identity, "", topic, seq, payload] per buffered batch with seq ≥ start_seq, then
//   [identity, "", topic, ff×8 (-1), ""]; the last `bufferSteps` batches are kept (current vLLM
//   puts the topic in replay replies; earlier releases sent [identity, "", seq, payload])
// Sends go out one at a time, in seq order; at most `maxQueued` batches wait to be sent and a
// batch beyond that is dropped — its seq is then missing, which subscribers see as a gap.
import { Publisher, Router } from 'zeromq';
import type { ExternalBlockHash } from '../../fleet/kv-events/block-hash.js';
import { encodeBatch, encodeSeq, type EventForm, type KvEvent } from '../../fleet/kv-events/wire.js';

export interface KvEventsPublisherOptions {
  /** Where the PUB socket binds; default an ephemeral loopback port. */
  readonly address?: string;
  /** Where the ROUTER replay socket binds; none when absent ("auto" = an ephemeral loopback port). */
  readonly replayAddress?: string;
  readonly topic?: string;
  readonly bufferSteps?: number;
  readonly hwm?: number;
  readonly maxQueued?: number;
  readonly dataParallelRank?: number | null;
  readonly form?: EventForm;
}

const END_SEQ = Buffer.alloc(8, 0xff);

export class KvEventsPublisher {
  private seq = 0;
  private queued = 0;
  private toLose = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly buffer: Array<{ seq: number; payload: Uint8Array }> = [];
  private closed = false;
  private replayLoop: Promise<void> = Promise.resolve();
  /** Batches dropped because the send queue was full. */
  dropped = 0;

  private constructor(
    private readonly pub: Publisher,
    private readonly router: Router | null,
    private readonly o: KvEventsPublisherOptions,
    readonly address: string,
    readonly replayAddress: string | null,
  ) {}

  static async bind(o: KvEventsPublisherOptions = {}): Promise<KvEventsPublisher> {
    const pub = new Publisher({ linger: 0, sendHighWaterMark: o.hwm ?? 100_000 });
    await pub.bind(o.address ?? 'tcp://127.0.0.1:*');
    let router: Router | null = null;
    if (o.replayAddress !== undefined) {
      router = new Router({ linger: 0 });
      await router.bind(o.replayAddress === 'auto' ? 'tcp://127.0.0.1:*' : o.replayAddress);
    }
    const p = new KvEventsPublisher(pub, router, o, pub.lastEndpoint ?? '', router?.lastEndpoint ?? null);
    if (router !== null) p.replayLoop = p.serveReplays(router);
    return p;
  }

  /** Sequence number the next batch will carry. */
  get nextSeq(): number {
    return this.seq;
  }

  /** Publish one batch; resolves with its seq once handed to ZMQ (null if dropped or closed). */
  publish(events: readonly KvEvent[], ts = Date.now() / 1000): Promise<number | null> {
    if (this.closed) return Promise.resolve(null);
    const seq = this.seq++;
    if (this.queued >= (this.o.maxQueued ?? 10_000)) {
      this.dropped++;
      return Promise.resolve(null);
    }
    const payload = encodeBatch({ ts, events, dataParallelRank: this.o.dataParallelRank ?? null }, this.o.form ?? 'map');
    this.remember(seq, payload);
    this.queued++;
    const lose = this.toLose > 0;
    if (lose) this.toLose--;
    const sent = this.chain.then(async () => {
      this.queued--;
      if (this.closed || lose) return null;
      await this.pub.send([this.o.topic ?? '', encodeSeq(seq), payload]);
      return seq;
    });
    this.chain = sent.then(
      () => undefined,
      () => undefined,
    );
    return sent.catch(() => null);
  }

  stored(hashes: readonly ExternalBlockHash[], parent: ExternalBlockHash | null, tokenIds: readonly number[], blockSize: number): Promise<number | null> {
    return this.publish([
      { type: 'BlockStored', blockHashes: hashes, parentBlockHash: parent, tokenIds, blockSize, loraId: null, medium: 'GPU', loraName: null },
    ]);
  }

  removed(hashes: readonly ExternalBlockHash[]): Promise<number | null> {
    return this.publish([{ type: 'BlockRemoved', blockHashes: hashes, medium: 'GPU' }]);
  }

  cleared(): Promise<number | null> {
    return this.publish([{ type: 'AllBlocksCleared' }]);
  }

  /** Fault injection: the next `count` sequence numbers are never used (not even for replay). */
  skipSequence(count: number): void {
    this.seq += count;
  }

  /** Fault injection: the next `count` batches are numbered and kept for replay but not sent. */
  loseNext(count: number): void {
    this.toLose += count;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    this.pub.close();
    this.router?.close();
    await this.replayLoop;
  }

  private remember(seq: number, payload: Uint8Array): void {
    this.buffer.push({ seq, payload });
    if (this.buffer.length > (this.o.bufferSteps ?? 10_000)) this.buffer.shift();
  }

  private async serveReplays(router: Router): Promise<void> {
    while (!this.closed) {
      let msg: Buffer[];
      try {
        msg = await router.receive();
      } catch {
        return;
      }
      const [identity, , start] = msg;
      if (msg.length !== 3 || identity === undefined || start === undefined || start.length !== 8) continue;
      const from = Number(start.readBigUInt64BE());
      try {
        const topic = this.o.topic ?? '';
        for (const b of this.buffer.filter((x) => x.seq >= from)) await router.send([identity, '', topic, encodeSeq(b.seq), b.payload]);
        await router.send([identity, '', topic, END_SEQ, '']);
      } catch {
        if (this.closed) return;
      }
    }
  }
}
