// The in-flight slot a routed request holds on an endpoint: taken at the decision,
// moved when Envoy says another endpoint served (a retry), given back exactly once
// when the request ends. Without a counter (explain, benchmarks that count in-flight
// themselves) it holds nothing.

export interface InflightCounter {
  acquire(address: string): void;
  release(address: string): void;
}

export class InflightLease {
  private held: string | undefined;

  constructor(
    private readonly counter: InflightCounter | undefined,
    address: string,
    /** Called once when the slot is given back (the model's in-flight count). */
    private onRelease?: (() => void) | undefined,
  ) {
    if (counter !== undefined) {
      counter.acquire(address);
      this.held = address;
    }
  }

  /** The endpoint whose slot is held (undefined once released, or when nothing is counted). */
  get endpoint(): string | undefined {
    return this.held;
  }

  /** The request is being served by `address` (after a retry): the slot follows it. */
  moveTo(address: string): void {
    if (this.held === undefined || this.held === address || this.counter === undefined) return;
    this.counter.release(this.held);
    this.counter.acquire(address);
    this.held = address;
  }

  release(): void {
    this.onRelease?.();
    this.onRelease = undefined;
    if (this.held === undefined || this.counter === undefined) return;
    this.counter.release(this.held);
    this.held = undefined;
  }
}
