// Live per-endpoint state kept by kvfleet: in-flight counts (up at decision, down
// at completion) and health. Bounded: only endpoints of the current fleet (or
// learned from discovery) have entries; `retain` forgets the rest.
import type { EndpointView, LiveView } from '../core/types.js';

interface Entry {
  inflight: number;
  healthy: boolean;
}

export class LiveEndpoints implements LiveView {
  private readonly entries = new Map<string, Entry>();

  endpoint(address: string): EndpointView | undefined {
    return this.entries.get(address);
  }

  private entry(address: string): Entry {
    let e = this.entries.get(address);
    if (e === undefined) {
      e = { inflight: 0, healthy: true };
      this.entries.set(address, e);
    }
    return e;
  }

  acquire(address: string): void {
    this.entry(address).inflight++;
  }

  release(address: string): void {
    const e = this.entries.get(address);
    if (e !== undefined && e.inflight > 0) e.inflight--;
  }

  setHealthy(address: string, healthy: boolean): void {
    this.entry(address).healthy = healthy;
  }

  /** Forget every endpoint not in `keep` (fleet reload, discovery). */
  retain(keep: ReadonlySet<string>): void {
    for (const k of this.entries.keys()) if (!keep.has(k)) this.entries.delete(k);
  }

  snapshot(): Array<{ address: string } & EndpointView> {
    return [...this.entries].map(([address, e]) => ({ address, inflight: e.inflight, healthy: e.healthy }));
  }
}
