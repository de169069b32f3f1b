// Response-headers phase → live state (fleet/outcomes.ts): which endpoint served,
// how many attempts it took, the status and rate-limit headers. Also moves this
// exchange's in-flight count to the endpoint that actually served, so the count of
// a streamed response sits on the replica generating it until the stream ends.
import { applyOutcome, type OutcomeEffects } from '../fleet/outcomes.js';
import type { ProtoStruct } from './proto-types.js';
import type { ExchangeEnv, ExchangeState } from './exchange-state.js';

/** Envoy attribute: attempts made for this request (1 = no retry). */
export const ATTEMPT_COUNT_ATTR = 'upstream.request_attempt_count';

function numberAttribute(attrs: Record<string, ProtoStruct> | undefined, name: string): number | undefined {
  if (attrs === undefined) return undefined;
  for (const s of Object.values(attrs)) {
    const v = s.fields?.[name];
    if (v?.numberValue !== undefined) return v.numberValue;
    if (v?.stringValue !== undefined && /^\d+$/.test(v.stringValue)) return Number(v.stringValue);
  }
  return undefined;
}

export function observeResponse(
  env: ExchangeEnv,
  st: ExchangeState,
  headers: ReadonlyMap<string, string>,
  status: number | undefined,
  served: string | undefined,
  attributes: Record<string, ProtoStruct> | undefined,
  now: number,
): OutcomeEffects | undefined {
  const d = st.decision;
  if (d === undefined) return undefined;
  if (served !== undefined && st.held !== undefined && served !== st.held) {
    env.live.release(st.held);
    env.live.acquire(served);
    st.held = served;
  }
  const effects = applyOutcome(
    env.live,
    {
      status,
      served,
      attempts: numberAttribute(attributes, ATTEMPT_COUNT_ATTR),
      offered: d.endpoints,
      ttfbMs: st.decidedAt !== undefined ? now - st.decidedAt : undefined,
      headers,
      now,
      wallNow: Date.now(),
    },
    st.fleet.file.health,
  );
  env.onOutcome?.(effects);
  return effects;
}
