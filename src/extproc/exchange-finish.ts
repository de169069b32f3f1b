// Ends an exchange once: releases the in-flight count it holds and emits its
// single report line.
import type { KvError } from '../errors.js';
import type { ExchangeEnv, ExchangeState } from './exchange-state.js';

export interface Outcome {
  status?: number | undefined;
  servedEndpoint?: string | undefined;
  upstreamMs?: number | undefined;
  error?: KvError | undefined;
}

export function releaseHeld(env: ExchangeEnv, st: ExchangeState): void {
  if (st.held !== undefined) {
    env.live.release(st.held);
    st.held = undefined;
  }
}

export function finish(env: ExchangeEnv, st: ExchangeState, o: Outcome): void {
  if (st.reported) return;
  st.reported = true;
  env.report({
    requestId: st.requestId,
    api: st.api,
    decision: st.decision,
    error: o.error,
    decisionUs: st.decisionUs,
    status: o.status ?? o.error?.status,
    servedEndpoint: o.servedEndpoint,
    upstreamMs: o.upstreamMs,
    stream: st.stream,
  });
}
