// What several kvfleet instances tell each other, besides budgets and rate windows (which
// live in the usage store): session pins, endpoint cooldowns, circuits opened, and Envoy's
// access log entries and meter readings that reached an instance other than the one that
// routed the request (Envoy streams its access log and the meter to one instance each; the
// decision key names the owner).
//   memory   one instance: nothing to tell (the default)
//   redis    pub/sub on `<key_prefix>:signals` (redis-signals.ts); pins also stored with their
//            TTL, so an instance that starts later loads them
// Delivery is at most once and arrives within milliseconds; a lost signal costs a cache miss
// or a slot released at its TTL, never a wrong answer.
export type Signal =
  | { readonly t: 'pin'; readonly session: string; readonly endpoint: string; readonly ttlMs: number }
  | { readonly t: 'cool'; readonly address: string; readonly ms: number; readonly reason: string }
  | { readonly t: 'open'; readonly address: string }
  /** A request was routed to `model` (at most once a second per model and instance): idle clocks restart. */
  | { readonly t: 'touch'; readonly model: string }
  /** An instance put `model` to sleep or woke it (fleet/sleep-controller.ts). */
  | { readonly t: 'sleep'; readonly model: string; readonly state: 'sleeping' | 'awake' }
  | { readonly t: 'end'; readonly owner: string; readonly event: Readonly<Record<string, unknown>> }
  /** The meter's reading of a response another instance routed (Envoy balances the meter's streams on its own). */
  | {
      readonly t: 'meter';
      readonly owner: string;
      readonly key: string;
      readonly usage: { readonly promptTokens: number; readonly completionTokens: number; readonly cachedTokens?: number | undefined } | null;
      readonly chunks: number;
      readonly streamed: boolean;
      readonly complete: boolean;
    };

export interface Signals {
  readonly shared: boolean;
  /** Tell the other instances (never echoed back to this one). */
  publish(s: Signal): void;
  /** Signals from the other instances; `sentWall` is the sender's wall clock (ms). */
  subscribe(on: (s: Signal, sentWall: number) => void): void;
  /** Pins stored in the backend (an instance that starts later loads them). */
  loadPins(limit: number): Promise<ReadonlyArray<{ session: string; endpoint: string; ttlMs: number }>>;
  close(): Promise<void>;
}

export const LOCAL_SIGNALS: Signals = Object.freeze({
  shared: false,
  publish: () => undefined,
  subscribe: () => undefined,
  loadPins: () => Promise.resolve([]),
  close: () => Promise.resolve(),
});
