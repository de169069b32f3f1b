// The usage store the fleet file asks for (state.backend), with its health reported: a
// gauge kvfleet_state_backend_up, and one log line per change (down with the reason, back up).
// Read at start: changing the backend takes a restart.
import type { Fleet } from '../config/fleet.js';
import type { Logger } from '../obs/logger.js';
import type { Metrics } from '../obs/metrics.js';
import { MemoryUsageStore } from './memory-usage.js';
import { RedisUsageStore } from './redis-usage.js';
import type { UsageStore } from './usage-store.js';
import { RedisSignals } from './redis-signals.js';
import { LOCAL_SIGNALS, type Signals } from './signals.js';

/** Signals to the other kvfleet instances (pins, cooldowns, circuits, access log entries), when the backend is shared. */
export function openSignals(fleet: Fleet, instance: string): Signals {
  const r = fleet.usage.state.redis;
  if (fleet.usage.state.backend !== 'redis' || r === undefined) return LOCAL_SIGNALS;
  return new RedisSignals({ url: r.url, keyPrefix: r.key_prefix, commandTimeoutMs: r.command_timeout_ms, connectTimeoutMs: r.connect_timeout_ms }, instance);
}

export function openUsageStore(fleet: Fleet, log: Logger, metrics: Metrics): UsageStore {
  const s = fleet.usage.state;
  if (s.backend === 'memory' || s.redis === undefined) {
    metrics.stateBackendUp.set({ backend: 'memory' }, 1);
    return new MemoryUsageStore();
  }
  metrics.stateBackendUp.set({ backend: 'redis' }, 0);
  const r = s.redis;
  return new RedisUsageStore({
    url: r.url,
    keyPrefix: r.key_prefix,
    commandTimeoutMs: r.command_timeout_ms,
    connectTimeoutMs: r.connect_timeout_ms,
    onStatus: (up, error) => {
      metrics.stateBackendUp.set({ backend: 'redis' }, up ? 1 : 0);
      if (up) log.info({ backend: 'redis' }, 'state backend reachable');
      else log.warn({ backend: 'redis', error, on_unavailable: s.on_unavailable }, 'state backend unreachable; routing on local state, reconnecting');
    },
  });
}
