// Everything one request holds (its in-flight slot on an endpoint, the bytes of a body
// kvfleet is collecting), released exactly once whichever way the request ends:
// answered, rejected, timed out, cancelled or the stream broken.

export class RequestLease {
  private readonly releases: Array<() => void> = [];
  private done = false;

  /** Hold something until the request ends; `release` runs once, in reverse order of holding. */
  hold(release: () => void): void {
    if (this.done) release();
    else this.releases.push(release);
  }

  releaseAll(): void {
    if (this.done) return;
    this.done = true;
    for (let i = this.releases.length - 1; i >= 0; i--) (this.releases[i] as () => void)();
    this.releases.length = 0;
  }
}
