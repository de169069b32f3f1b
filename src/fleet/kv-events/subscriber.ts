// ZMQ SUB client of vLLM KV-cache events: one SUB socket per replica (so every batch is known to
// come from its replica), connected to the engine's `endpoint` (KVEventsConfig; default port
// 5557), subscribed to `topic` (a prefix match; vLLM's default topic is ""). Each message is
// [topic, seq, payload] (wire.ts); ReplicaStream tracks seq, reliability and replay.
// Bounds: ZMQ's receive high-water mark (messages beyond it are dropped by ZMQ and show up as a
// seq gap), maxMessageSize (a larger message drops the connection, which ZMQ re-opens), the
// payload and array limits of the decoder, and the live messages held during a replay.
// Reconnects by itself: ZMQ retries a connect() every reconnectIntervalMs (backing off to
// reconnectMaxIntervalMs) for as long as the socket is open, also before the engine is up.
// Liveness: status().connected (ZMQ connect/disconnect events) and lastBatchAt. vLLM publishes
// only when blocks change, so an idle engine is silent; see isFresh.
import { Subscriber } from 'zeromq';
import { requestReplay } from './replay-client.js';
import { ReplicaStream, type KvEventHandlers, type StreamStatus } from './replica-stream.js';
import { decodeSeq } from './wire.js';
import type { DecodeLimits } from './wire-decode.js';

export interface KvEventSource {
  /** kvfleet's name of the replica (its ip:port); handlers receive it. */
  readonly endpoint: string;
  /** The engine's PUB address, e.g. tcp://10.0.0.7:5557. */
  readonly address: string;
  /** The engine's ROUTER replay address, when it has one. */
  readonly replayAddress?: string;
}

export interface SubscriberOptions {
  readonly topic?: string;
  readonly receiveHighWaterMark?: number;
  readonly maxMessageBytes?: number;
  readonly limits?: DecodeLimits;
  readonly maxPendingDuringReplay?: number;
  readonly replayTimeoutMs?: number;
  readonly reconnectIntervalMs?: number;
  readonly reconnectMaxIntervalMs?: number;
}

export interface SubscriptionStatus extends StreamStatus {
  readonly address: string;
  readonly connected: boolean;
}

interface Subscription {
  readonly source: KvEventSource;
  readonly socket: Subscriber;
  readonly stream: ReplicaStream;
  connected: boolean;
  closed: boolean;
  /** The receive loop and any replay in flight; close() waits for them. */
  readonly tasks: Set<Promise<void>>;
}

export class KvEventSubscriber {
  private readonly subs = new Map<string, Subscription>();

  constructor(
    private readonly handlers: KvEventHandlers,
    private readonly o: SubscriberOptions = {},
  ) {}

  /** Start following a replica (replaces an earlier source of the same endpoint). */
  add(source: KvEventSource): void {
    void this.remove(source.endpoint);
    const socket = new Subscriber({
      linger: 0,
      receiveHighWaterMark: this.o.receiveHighWaterMark ?? 10_000,
      maxMessageSize: this.o.maxMessageBytes ?? 64 * 1024 * 1024,
      reconnectInterval: this.o.reconnectIntervalMs ?? 500,
      reconnectMaxInterval: this.o.reconnectMaxIntervalMs ?? 5_000,
    });
    const stream = new ReplicaStream(source.endpoint, this.handlers, {
      canReplay: source.replayAddress !== undefined,
      maxPending: this.o.maxPendingDuringReplay ?? 10_000,
      ...(this.o.limits === undefined ? {} : { limits: this.o.limits }),
    });
    const sub: Subscription = { source, socket, stream, connected: false, closed: false, tasks: new Set() };
    socket.events.on('connect', () => {
      sub.connected = true;
    });
    socket.events.on('disconnect', () => {
      sub.connected = false;
    });
    socket.connect(source.address);
    socket.subscribe(this.o.topic ?? '');
    this.subs.set(source.endpoint, sub);
    track(sub, this.receiveLoop(sub));
  }

  /** Stop following a replica; resolves once its loop and replay (bounded by replayTimeoutMs) ended. */
  async remove(endpoint: string): Promise<void> {
    const sub = this.subs.get(endpoint);
    if (sub === undefined) return;
    this.subs.delete(endpoint);
    sub.closed = true;
    sub.socket.close();
    await Promise.all([...sub.tasks]);
  }

  status(endpoint: string): SubscriptionStatus | undefined {
    const sub = this.subs.get(endpoint);
    return sub === undefined ? undefined : { ...sub.stream.status(), address: sub.source.address, connected: sub.connected };
  }

  endpoints(): string[] {
    return [...this.subs.keys()];
  }

  /**
   * Whether the precise state of `endpoint` can be used: connected, reliable, and — when the
   * caller has sent it work since `busySince` — a batch within `maxSilenceMs` of that.
   */
  isFresh(endpoint: string, o: { now: number; maxSilenceMs: number; busySince?: number }): boolean {
    const s = this.status(endpoint);
    if (s === undefined || !s.connected || !s.reliable || s.replaying) return false;
    if (o.busySince === undefined || o.now - o.busySince < o.maxSilenceMs) return true;
    return s.lastBatchAt !== null && s.lastBatchAt >= o.busySince;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subs.keys()].map((e) => this.remove(e)));
  }

  private async receiveLoop(sub: Subscription): Promise<void> {
    while (!sub.closed) {
      let msg: Buffer[];
      try {
        msg = await sub.socket.receive();
      } catch {
        if (sub.closed) return;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const seq = msg.length === 3 && msg[1] !== undefined ? decodeSeq(msg[1]) : null;
      const payload = msg[2];
      if (seq === null || seq < 0 || payload === undefined) {
        sub.stream.malformed(`message of ${msg.length} frames without [topic, 8-byte seq, payload]`);
        continue;
      }
      let replayFrom: number | null = null;
      try {
        replayFrom = sub.stream.live({ seq, payload });
      } catch (e) {
        sub.stream.malformed(`a handler threw on batch ${seq}: ${e instanceof Error ? e.message : String(e)}`, true);
      }
      if (replayFrom !== null) track(sub, this.replay(sub, replayFrom, seq - 1));
    }
  }

  private async replay(sub: Subscription, from: number, until: number): Promise<void> {
    const address = sub.source.replayAddress;
    if (address === undefined) return;
    const r = await requestReplay(address, from, { timeoutMs: this.o.replayTimeoutMs ?? 2_000, maxFrames: until - from + 1, untilSeq: until });
    if (sub.closed) return;
    try {
      sub.stream.replayed(r.frames, r.complete);
    } catch (e) {
      sub.stream.malformed(`a handler threw during a replay: ${e instanceof Error ? e.message : String(e)}`, true);
    }
  }
}

function track(sub: Subscription, task: Promise<void>): void {
  sub.tasks.add(task);
  const done = (): void => {
    sub.tasks.delete(task);
  };
  task.then(done, done);
}
