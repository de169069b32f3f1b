// Per-model traffic and sleep metrics. Gauges are read when Prometheus scrapes (collect);
// the model label comes from the fleet file, so label sets stay bounded.
//   kvfleet_model_requests_per_second{model}           over the last 60 s, this instance
//   kvfleet_model_inflight{model}                      routed here, not ended
//   kvfleet_model_last_request_timestamp_seconds{model}  here or at another instance
//   kvfleet_model_state{model,state}                   1 for the state the model is in
//   kvfleet_model_state_changes_total{model,state}     transitions into each state
//   kvfleet_model_wake_seconds{model,result}           how long wakes took
//   kvfleet_requests_held_for_wake                     requests waiting for a model to wake
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Fleet } from '../config/fleet.js';
import type { ModelTraffic } from './model-traffic.js';
import type { ModelSleepState, SleepController } from './sleep-controller.js';

const STATES: readonly ModelSleepState[] = ['awake', 'falling_asleep', 'sleeping', 'waking'];

export interface ModelMetrics {
  readonly stateChanges: Counter<'model' | 'state'>;
  readonly wakeSeconds: Histogram<'model' | 'result'>;
}

export function registerModelMetrics(registry: Registry, fleet: () => Fleet, traffic: ModelTraffic, sleep: SleepController): ModelMetrics {
  const registers = [registry];
  new Gauge({
    name: 'kvfleet_model_requests_per_second',
    help: 'Requests routed to the model by this instance, per second over the last 60 s',
    labelNames: ['model'],
    registers,
    collect() {
      this.reset();
      for (const m of fleet().models) this.set({ model: m.name }, traffic.stats(m.name, 60).requestsPerSecond);
    },
  });
  new Gauge({
    name: 'kvfleet_model_inflight',
    help: 'Requests routed to the model by this instance that have not ended',
    labelNames: ['model'],
    registers,
    collect() {
      this.reset();
      for (const m of fleet().models) this.set({ model: m.name }, traffic.inflight(m.name));
    },
  });
  new Gauge({
    name: 'kvfleet_model_last_request_timestamp_seconds',
    help: 'Unix time of the last request routed to the model (by any instance sharing state)',
    labelNames: ['model'],
    registers,
    collect() {
      this.reset();
      for (const m of fleet().models) {
        const last = traffic.stats(m.name, 1).lastWall;
        if (last !== undefined) this.set({ model: m.name }, last / 1000);
      }
    },
  });
  new Gauge({
    name: 'kvfleet_model_state',
    help: 'The model is in this sleep state (1), as this instance knows it',
    labelNames: ['model', 'state'],
    registers,
    collect() {
      this.reset();
      for (const m of fleet().models) {
        const now = sleep.state(m.name);
        for (const s of STATES) this.set({ model: m.name, state: s }, s === now ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'kvfleet_requests_held_for_wake',
    help: 'Requests waiting for their model to wake',
    registers,
    collect() {
      this.set(sleep.held);
    },
  });
  return {
    stateChanges: new Counter({
      name: 'kvfleet_model_state_changes_total',
      help: 'Sleep state transitions, by the state entered',
      labelNames: ['model', 'state'],
      registers,
    }),
    wakeSeconds: new Histogram({
      name: 'kvfleet_model_wake_seconds',
      help: 'From the start of a wake to the first replica awake (or the wake failing)',
      labelNames: ['model', 'result'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers,
    }),
  };
}
