// Idle sleep and wake-on-request, per model (models[].sleep; admin POST /models/{m}/sleep|wake).
//   awake ──(idle ≥ idle_seconds, nothing in flight here or on the engines | admin)──▶ falling_asleep
//   falling_asleep ──(every replica's sleep call answered)──▶ sleeping      (none answered: awake)
//   sleeping ──(a request | admin; not before min_sleep_seconds)──▶ waking
//   waking ──(the first replica reports awake)──▶ awake                     (none: sleeping)
// A request for a model that is not awake is held (Router: `ready`) until the model is awake,
// up to its wake_timeout_ms, then 503 model_waking with retry-after. Every held request shares
// one wake; a request that arrives while the model is falling asleep waits for that to finish
// and then wakes it. Replicas still waking when the first one is awake cool down ('waking')
// until they report awake, so the pickers send nothing there meanwhile. A replica put to
// sleep loses its KV cache: its learned prefix state is forgotten (`forget`).
// The state is this instance's; with shared state the others hear of each change (`adopt`).
import type { Fleet, Model } from '../config/fleet.js';
import type { ModelSleepConfig } from '../config/sleep-schema.js';
import { endpointsOf } from '../core/membership.js';
import type { LiveView } from '../core/types.js';
import { kvError, type KvError } from '../errors.js';
import type { EngineSleepApi, SleepEngine } from './engine-sleep.js';
import type { ModelTraffic } from './model-traffic.js';

export type ModelSleepState = 'awake' | 'falling_asleep' | 'sleeping' | 'waking';

/** A model without a `sleep` block is still put to sleep and woken on an operator's word, with these. */
const DEFAULTS: ModelSleepConfig = Object.freeze({ idle_seconds: 300, auto: false, min_sleep_seconds: 0, level: 1, wake_timeout_ms: 60_000 });
/** A wake's duration before any was measured (seconds, for retry-after). */
const FIRST_WAKE_GUESS_MS = 5000;
const POLL_MS = 200;

interface Entry {
  state: ModelSleepState;
  /** Monotonic ms of the last change of state. */
  since: number;
  /** The sleep transition running (falling_asleep). */
  sleeping: Promise<void> | undefined;
  /** The one wake every held request shares. */
  waking: Promise<void> | undefined;
  /** How long wakes took, smoothed (ms). */
  wakeMs: number | undefined;
}

export interface SleepEvents {
  /** The model changed state (metrics, logs, the other instances). */
  changed?(model: string, state: ModelSleepState, reason: string): void;
  /** A wake ended: its duration, and whether any replica woke. */
  woke?(model: string, ms: number, ok: boolean): void;
  /** A call to one replica failed (logged; never carries prompt text). */
  failed?(model: string, address: string, what: 'sleep' | 'wake', error: string): void;
}

export interface SleepControllerDeps {
  readonly fleet: () => Fleet;
  readonly live: LiveView;
  readonly traffic: ModelTraffic;
  readonly api: EngineSleepApi;
  /** Monotonic ms. */
  readonly now: () => number;
  /** The replica's KV cache is gone: forget what kvfleet learned about it. */
  readonly forget?: ((address: string) => void) | undefined;
  /** Cool a replica down while it wakes (and end that when it is awake). */
  readonly coolDown?: ((address: string, until: number) => void) | undefined;
  readonly endCoolDown?: ((address: string) => void) | undefined;
  readonly events?: SleepEvents | undefined;
}

/** Why `model` cannot be put to sleep, or undefined when it can. */
export function sleepUnsupported(model: Model): string | undefined {
  if (model.hosted) return 'it is a hosted provider';
  if (model.engine !== 'vllm' && model.engine !== 'sglang') return `its engine is ${model.engine}; only vllm and sglang have a sleep API`;
  return undefined;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export class SleepController {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;
  /** Requests waiting for a model to wake, all models together. */
  held = 0;

  constructor(private readonly deps: SleepControllerDeps) {}

  state(model: string): ModelSleepState {
    return this.entries.get(model)?.state ?? 'awake';
  }

  config(model: Model): ModelSleepConfig {
    return model.sleep ?? DEFAULTS;
  }

  /** How long a request may wait for `model` to wake (ms). */
  holdMs(model: Model): number {
    return this.config(model).wake_timeout_ms;
  }

  /**
   * true when requests for `model` may go now; otherwise a promise that resolves once it is
   * awake (the wake is started or joined) and rejects with 503 model_waking after its
   * wake_timeout_ms, or when the signal aborts (made only when the request waits).
   */
  ready(model: Model, abortSignal?: () => AbortSignal): true | Promise<void> {
    const e = this.entries.get(model.name);
    if (e === undefined || e.state === 'awake') return true;
    const signal = abortSignal?.();
    const cfg = this.config(model);
    const wake = this.wake(model);
    this.held++;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: KvError) => {
        if (done) return;
        done = true;
        this.held--;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onAbort = () => finish(this.waking(model, e, 'waking'));
      const timer = setTimeout(() => finish(this.waking(model, e, this.minSleepLeft(model, e) > 0 ? 'min_sleep' : 'waking')), cfg.wake_timeout_ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      wake.then(
        () => finish(),
        () => finish(this.waking(model, e, 'failed')),
      );
    });
  }

  /** 503 model_waking with retry-after: what is left of the minimum sleep plus a wake's usual time. */
  private waking(model: Model, e: Entry, why: 'waking' | 'min_sleep' | 'failed'): KvError {
    const wakeMs = e.wakeMs ?? FIRST_WAKE_GUESS_MS;
    const left = e.state === 'waking' ? Math.max(0, wakeMs - (this.deps.now() - e.since)) : this.minSleepLeft(model, e) + wakeMs;
    return kvError('model_waking', { model: model.name, why }, Math.max(1, Math.ceil(left / 1000)));
  }

  private minSleepLeft(model: Model, e: Entry): number {
    if (e.state !== 'sleeping' && e.state !== 'falling_asleep') return 0;
    return Math.max(0, e.since + this.config(model).min_sleep_seconds * 1000 - this.deps.now());
  }

  /** Wake `model` (shared by every caller while it runs); resolves when a replica is awake. */
  wake(model: Model): Promise<void> {
    const e = this.entries.get(model.name);
    if (e === undefined || e.state === 'awake') return Promise.resolve();
    if (e.waking !== undefined) return e.waking;
    const run = (async () => {
      // Falling asleep: let it finish, then wake (a request waits instead of failing).
      if (e.sleeping !== undefined) await e.sleeping;
      if (e.state === 'awake') return;
      const left = this.minSleepLeft(model, e);
      if (left > 0) await delay(left);
      await this.wakeReplicas(model, e);
    })();
    e.waking = run.finally(() => {
      e.waking = undefined;
    });
    return e.waking;
  }

  private async wakeReplicas(model: Model, e: Entry): Promise<void> {
    const started = this.deps.now();
    this.set(model.name, e, 'waking', 'wake');
    const engine = model.engine as SleepEngine;
    const cfg = this.config(model);
    const addresses = endpointsOf(model, this.deps.live);
    let first: () => void = () => undefined;
    const anyAwake = new Promise<void>((resolve) => (first = resolve));
    const woken = new Set<string>();
    const all = Promise.allSettled(
      addresses.map(async (address) => {
        try {
          await this.deps.api.wake(address, engine);
          await this.untilAwake(address, engine, cfg.wake_timeout_ms);
          woken.add(address);
          this.deps.endCoolDown?.(address);
          first();
        } catch (err) {
          this.deps.events?.failed?.(model.name, address, 'wake', err instanceof Error ? err.message : String(err));
        }
      }),
    );
    await Promise.race([anyAwake, all]);
    const ms = this.deps.now() - started;
    if (woken.size === 0) {
      // Nothing woke: asleep still; the next request tries again (no minimum sleep to wait).
      this.set(model.name, e, 'sleeping', 'wake failed');
      e.since = this.deps.now() - cfg.min_sleep_seconds * 1000;
      this.deps.events?.woke?.(model.name, ms, false);
      throw new Error(`no replica of ${model.name} woke`);
    }
    e.wakeMs = e.wakeMs === undefined ? ms : 0.7 * e.wakeMs + 0.3 * ms;
    // The others are still waking: nothing goes there until they say they are awake.
    const until = this.deps.now() + cfg.wake_timeout_ms;
    for (const address of addresses) if (!woken.has(address)) this.deps.coolDown?.(address, until);
    this.set(model.name, e, 'awake', 'wake');
    this.deps.events?.woke?.(model.name, ms, true);
  }

  /** vLLM answers /wake_up when it is done; confirm with /is_sleeping (SGLang cannot say). */
  private async untilAwake(address: string, engine: SleepEngine, timeoutMs: number): Promise<void> {
    const deadline = this.deps.now() + timeoutMs;
    for (;;) {
      const sleeping = await this.deps.api.isSleeping(address, engine);
      if (sleeping !== true) return;
      if (this.deps.now() > deadline) throw new Error('still sleeping after its wake call');
      await delay(POLL_MS);
    }
  }

  /**
   * Put `model` to sleep. Refuses (409 model_busy) while requests are in flight; answers the
   * state reached. Concurrent calls share the transition.
   */
  async sleep(model: Model, reason: 'idle' | 'admin'): Promise<ModelSleepState> {
    const why = sleepUnsupported(model);
    if (why !== undefined) throw kvError('sleep_unsupported', { model: model.name, why });
    const inflight = this.deps.traffic.inflight(model.name);
    if (inflight > 0) throw kvError('model_busy', { model: model.name, inflight });
    const e = this.entry(model.name);
    if (e.sleeping !== undefined) await e.sleeping;
    if (e.state !== 'awake') return e.state;
    const engine = model.engine as SleepEngine;
    const cfg = this.config(model);
    const addresses = endpointsOf(model, this.deps.live);
    this.set(model.name, e, 'falling_asleep', reason);
    e.sleeping = (async () => {
      const results = await Promise.allSettled(addresses.map((a) => this.deps.api.sleep(a, engine, cfg.level)));
      let asleep = 0;
      results.forEach((r, i) => {
        const address = addresses[i] as string;
        if (r.status === 'fulfilled') {
          asleep++;
          this.deps.forget?.(address);
        } else {
          this.deps.events?.failed?.(model.name, address, 'sleep', r.reason instanceof Error ? r.reason.message : String(r.reason));
        }
      });
      this.set(model.name, e, asleep > 0 ? 'sleeping' : 'awake', asleep > 0 ? reason : 'sleep failed');
    })().finally(() => {
      e.sleeping = undefined;
    });
    await e.sleeping;
    return e.state;
  }

  /** Another instance put the model to sleep or woke it. */
  adopt(model: string, state: 'sleeping' | 'awake'): void {
    const m = this.deps.fleet().byName.get(model);
    if (m === undefined || sleepUnsupported(m) !== undefined) return;
    const e = this.entry(model);
    if (e.state === state || e.sleeping !== undefined || e.waking !== undefined) return;
    if (state === 'sleeping') for (const a of endpointsOf(m, this.deps.live)) this.deps.forget?.(a);
    this.set(model, e, state, 'another instance');
  }

  /** Ask each sleep-enabled vLLM model's replicas whether they sleep (kvfleet restarted while they did). */
  async probe(): Promise<void> {
    for (const m of this.deps.fleet().models) {
      if (m.sleep === undefined || m.engine !== 'vllm' || m.hosted) continue;
      const addresses = endpointsOf(m, this.deps.live);
      const answers = await Promise.allSettled(addresses.map((a) => this.deps.api.isSleeping(a, 'vllm')));
      const sleeping = answers.filter((r) => r.status === 'fulfilled' && r.value === true).length;
      if (addresses.length > 0 && sleeping === addresses.length && this.state(m.name) === 'awake') {
        this.set(m.name, this.entry(m.name), 'sleeping', 'found asleep');
      }
    }
  }

  /** Models idle past their sleep.idle_seconds, with nothing in flight here or on their engines, go to sleep. */
  tick(): void {
    for (const m of this.deps.fleet().models) {
      const cfg = m.sleep;
      if (cfg === undefined || !cfg.auto || this.state(m.name) !== 'awake') continue;
      // Idle since the last request, or since it woke (a wake restarts the clock).
      const e = this.entries.get(m.name);
      const idleMs = Math.min(this.deps.traffic.idleMs(m.name), e === undefined ? Infinity : this.deps.now() - e.since);
      if (idleMs < cfg.idle_seconds * 1000 || this.deps.traffic.inflight(m.name) > 0) continue;
      const busy = endpointsOf(m, this.deps.live).some((a) => {
        const load = this.deps.live.endpoint(a)?.engine;
        return load !== undefined && load.running + load.waiting > 0;
      });
      if (busy) continue;
      this.sleep(m, 'idle').catch(() => undefined);
    }
  }

  start(intervalMs = 1000): void {
    this.timer ??= setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** After a reload: forget models that left. */
  retain(fleet: Fleet): void {
    for (const name of this.entries.keys()) if (!fleet.byName.has(name)) this.entries.delete(name);
  }

  /** Every model's state, with how long it has been in it (seconds). */
  snapshot(): ReadonlyMap<string, { state: ModelSleepState; forSeconds: number }> {
    const now = this.deps.now();
    return new Map([...this.entries].map(([name, e]) => [name, { state: e.state, forSeconds: (now - e.since) / 1000 }]));
  }

  private entry(model: string): Entry {
    let e = this.entries.get(model);
    if (e === undefined) {
      e = { state: 'awake', since: this.deps.now(), sleeping: undefined, waking: undefined, wakeMs: undefined };
      this.entries.set(model, e);
    }
    return e;
  }

  private set(model: string, e: Entry, state: ModelSleepState, reason: string): void {
    if (e.state === state) return;
    e.state = state;
    e.since = this.deps.now();
    this.deps.events?.changed?.(model, state, reason);
  }
}
