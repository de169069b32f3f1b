// Binary min-heap of simulation events in parallel typed arrays: (time, seq) ordered, with an
// int payload. No allocation per push/pop (arrays double when full). seq breaks ties in push
// order, which makes the simulation deterministic.
import { grown } from '../../core/typed-grow.js';

export class EventHeap {
  private time: Float64Array;
  private seq: Float64Array;
  private data: Int32Array;
  private n = 0;
  private nextSeq = 0;

  constructor(capacity = 1024) {
    this.time = new Float64Array(capacity);
    this.seq = new Float64Array(capacity);
    this.data = new Int32Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  /** Time of the earliest event (undefined when empty). */
  peekTime(): number | undefined {
    return this.n > 0 ? this.time[0] : undefined;
  }

  push(t: number, payload: number): void {
    if (this.n === this.time.length) this.grow();
    const time = this.time;
    const seq = this.seq;
    const data = this.data;
    const s = this.nextSeq++;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = time[p] as number;
      if (pt < t || (pt === t && (seq[p] as number) < s)) break;
      time[i] = pt;
      seq[i] = seq[p] as number;
      data[i] = data[p] as number;
      i = p;
    }
    time[i] = t;
    seq[i] = s;
    data[i] = payload;
  }

  /** Remove the earliest event; returns its payload (its time was peekTime()). -1 when empty. */
  pop(): number {
    if (this.n === 0) return -1;
    const time = this.time;
    const seq = this.seq;
    const data = this.data;
    const top = data[0] as number;
    const last = --this.n;
    if (last === 0) return top;
    const t = time[last] as number;
    const s = seq[last] as number;
    const d = data[last] as number;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      let m = l;
      if (r < last) {
        const rt = time[r] as number;
        const lt = time[l] as number;
        if (rt < lt || (rt === lt && (seq[r] as number) < (seq[l] as number))) m = r;
      }
      const mt = time[m] as number;
      if (t < mt || (t === mt && s < (seq[m] as number))) break;
      time[i] = mt;
      seq[i] = seq[m] as number;
      data[i] = data[m] as number;
      i = m;
    }
    time[i] = t;
    seq[i] = s;
    data[i] = d;
    return top;
  }

  private grow(): void {
    const cap = this.time.length * 2;
    this.time = grown(this.time, cap);
    this.seq = grown(this.seq, cap);
    this.data = grown(this.data, cap);
  }
}
