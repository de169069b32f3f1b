// Helpers for the decision-core unit tests: fleets, requests and a mutable live view.
import type { DecisionRequest, EndpointView, LiveView } from '../../src/core/types.js';
import type { Overrides } from '../../src/request/headers.js';
import type { PromptSegment, RequestInput } from '../../src/request/types.js';
import { fleetFrom } from './fleet.js';
import type { Fleet } from '../../src/config/fleet.js';

export function endpoints(n: number, base = 1): string[] {
  return Array.from({ length: n }, (_, i) => `10.1.${Math.floor((base + i) / 250)}.${(base + i) % 250}:8000`);
}

/** A fleet of one model `m` with `n` endpoints, plus any YAML appended at top level. */
export function oneModelFleet(n: number, extra = ''): Fleet {
  return fleetFrom(`
default_model: m
models:
  - name: m
    cluster: pool-m
    model_id: org/M
    endpoints: [${endpoints(n).join(', ')}]
${extra}`);
}

export function chatInput(segments: PromptSegment[], extra: Partial<RequestInput> = {}): RequestInput {
  const promptChars = segments.reduce((n, s) => n + s.text.length, 0);
  return {
    api: 'chat',
    model: 'auto',
    stream: false,
    segments,
    promptChars,
    hasTools: false,
    jsonMode: false,
    hasImages: false,
    maxOutputTokens: undefined,
    user: undefined,
    body: {},
    bodyChanged: false,
    ...extra,
  };
}

let rid = 0;
export function request(input: RequestInput, o: Partial<Overrides> & { sessionId?: string } = {}): DecisionRequest {
  return {
    requestId: `r-${++rid}`,
    sessionId: o.sessionId,
    overrides: { strategy: o.strategy, models: o.models, priority: o.priority ?? 'normal' },
    input,
  };
}

/** A live view the test sets directly. Unknown endpoints: healthy, idle. */
export class FakeLive implements LiveView {
  readonly views = new Map<string, EndpointView>();
  endpoint(a: string): EndpointView | undefined {
    return this.views.get(a);
  }
  set(a: string, v: Partial<EndpointView>): void {
    this.views.set(a, { inflight: 0, healthy: true, ...this.views.get(a), ...v });
  }
  inflight(a: string): number {
    return this.views.get(a)?.inflight ?? 0;
  }
  acquire(a: string): void {
    this.set(a, { inflight: this.inflight(a) + 1 });
  }
}

export const SYSTEM = 'You are a meticulous assistant for the ACME support desk. '.repeat(40);
