// serve.ts's hooks for the precise prefix index: start it (it holds no socket or tokenizer until
// a model has kv_events; reloads add and remove them), turn a setting it cannot use at start into
// the fleet file's error, and add its state to GET /fleet.
import { FleetFileError } from '../../config/load.js';
import { KvEventsConfigError, KvIndex, type KvIndexOptions } from './kv-index.js';

export function startKvIndex(o: KvIndexOptions): KvIndex {
  try {
    return new KvIndex(o);
  } catch (err) {
    if (err instanceof KvEventsConfigError) throw new FleetFileError(o.fleetPath, [err.message]);
    throw err;
  }
}

/** GET /fleet with `kv_events` (per model, per replica) when the index runs. */
export function withKvEvents(view: unknown, kv: KvIndex | undefined): unknown {
  if (kv === undefined || typeof view !== 'object' || view === null || !kv.active) return view;
  return { ...view, kv_events: kv.view() };
}
