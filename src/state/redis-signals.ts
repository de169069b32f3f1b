// Signals between kvfleet instances over Redis pub/sub (signals.ts). One publishing
// connection and one subscribed connection per instance; messages carry the sender's id and
// wall clock so an instance ignores its own and converts durations. Session pins are also
// written as keys with their TTL (`pin:<session>`), read once at start.
import type { Redis } from 'ioredis';
import { connectRedis, type RedisOptions } from './redis-usage.js';
import type { Signal, Signals } from './signals.js';

interface Envelope {
  readonly from: string;
  readonly wall: number;
  readonly s: Signal;
}

const isEnvelope = (v: unknown): v is Envelope =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as Envelope).from === 'string' &&
  typeof (v as Envelope).wall === 'number' &&
  typeof (v as Envelope).s === 'object';

export class RedisSignals implements Signals {
  readonly shared = true;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly channel: string;
  private readonly connectTimeoutMs: number;

  constructor(
    o: RedisOptions,
    private readonly instance: string,
  ) {
    this.connectTimeoutMs = o.connectTimeoutMs;
    this.pub = connectRedis(o);
    this.sub = connectRedis({ ...o, onStatus: undefined });
    // Pub/sub channels are not key-prefixed by ioredis: name it with the prefix ourselves.
    this.channel = `${o.keyPrefix}:signals`;
  }

  publish(s: Signal): void {
    if (this.pub.status !== 'ready') return;
    const msg = JSON.stringify({ from: this.instance, wall: Date.now(), s } satisfies Envelope);
    this.pub.publish(this.channel, msg).catch(() => undefined);
    if (s.t === 'pin') this.pub.set(`pin:${s.session}`, s.endpoint, 'PX', Math.max(1, Math.round(s.ttlMs))).catch(() => undefined);
  }

  subscribe(on: (s: Signal, sentWall: number) => void): void {
    // Commands wait for nobody (no offline queue): subscribe whenever the connection is ready.
    const subscribe = () => void this.sub.subscribe(this.channel).catch(() => undefined);
    if (this.sub.status === 'ready') subscribe();
    this.sub.on('ready', subscribe);
    this.sub.on('message', (_channel: string, text: string) => {
      let e: unknown;
      try {
        e = JSON.parse(text);
      } catch {
        return;
      }
      if (isEnvelope(e) && e.from !== this.instance) on(e.s, e.wall);
    });
  }

  async loadPins(limit: number): Promise<ReadonlyArray<{ session: string; endpoint: string; ttlMs: number }>> {
    if (!(await this.ready(this.pub))) return [];
    const out: Array<{ session: string; endpoint: string; ttlMs: number }> = [];
    const prefix = this.pub.options.keyPrefix ?? '';
    let cursor = '0';
    do {
      // SCAN does not apply ioredis's key prefix: match on the full key names.
      const [next, keys] = await this.pub.scan(cursor, 'MATCH', `${prefix}pin:*`, 'COUNT', 500);
      cursor = next;
      for (const full of keys) {
        if (out.length >= limit) return out;
        const key = full.slice(prefix.length);
        const [endpoint, ttl] = await Promise.all([this.pub.get(key), this.pub.pttl(key)]);
        if (endpoint !== null && ttl > 0) out.push({ session: key.slice('pin:'.length), endpoint, ttlMs: ttl });
      }
    } while (cursor !== '0' && out.length < limit);
    return out;
  }

  /** Wait (bounded) for a connection that is still connecting. */
  private async ready(c: Redis): Promise<boolean> {
    if (c.status === 'ready') return true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.connectTimeoutMs);
      c.once('ready', () => {
        clearTimeout(t);
        resolve();
      });
    });
    return (c.status as string) === 'ready';
  }

  async close(): Promise<void> {
    this.sub.disconnect();
    this.pub.disconnect();
    return Promise.resolve();
  }
}
