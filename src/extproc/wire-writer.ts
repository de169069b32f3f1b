// Protobuf output in two passes over the same walk (wire-encode.ts), for the small answers kvfleet
// sends on every request: a Sizer walks the message once and records every sub-message's and
// string's length in order; a DirectWriter walks it again and writes straight into one Buffer of
// exactly that size. protobufjs's Writer, which the general codec uses, queues one operation
// object per field and a state object per sub-message, then copies them all out in finish();
// these write the same bytes (same varints, same float64 bytes, strings as protobufjs writes them:
// its own UTF-8 writer under 40 characters, Buffer's from there) without the queue.
//   varint      7 bits a byte, low first; uint32 and a non-negative int32 as `>>> 0`, a negative int32
//               or int64 as 64-bit two's complement (10 bytes), as protobufjs's Writer does
//   length      the walk calls fork() before a sub-message's fields and ldelim() after them
import protobuf from 'protobufjs/minimal.js';

/** What the walk writes to (the subset of protobufjs's Writer that wire-encode.ts uses). */
export interface ProtoSink {
  uint32(v: number): this;
  int32(v: number): this;
  /** A whole number within ±2^53 (callers check Number.isSafeInteger). */
  int64(v: number): this;
  bool(v: boolean): this;
  double(v: number): this;
  string(v: string): this;
  bytes(v: Uint8Array): this;
  fork(): this;
  ldelim(): this;
}

/** Under this many UTF-16 units protobufjs writes a string with its own UTF-8 writer. */
const SHORT_STRING = 40;

const varintSize = (v: number): number => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5);

/** low and high 32 bits of a safe integer, two's complement when negative (protobufjs's LongBits.fromNumber). */
function longBits(v: number): [number, number] {
  if (v === 0) return [0, 0];
  const neg = v < 0;
  const a = neg ? -v : v;
  let lo = a >>> 0;
  let hi = ((a - lo) / 4294967296) >>> 0;
  if (neg) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
    if (++lo > 4294967295) {
      lo = 0;
      if (++hi > 4294967295) hi = 0;
    }
  }
  return [lo, hi];
}

function varint64Size(lo: number, hi: number): number {
  let n = 1;
  while (hi !== 0) {
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
    n++;
  }
  while (lo > 127) {
    lo >>>= 7;
    n++;
  }
  return n;
}

/** UTF-8 byte length; ASCII strings are counted without a native call. */
function utf8Length(s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return s.length < SHORT_STRING ? protobuf.util.utf8.length(s) : Buffer.byteLength(s, 'utf8');
  return n;
}

/** Pass 1: the size of everything, and the lengths pass 2 needs, in walk order. */
export class Sizer implements ProtoSink {
  len = 0;
  /** Sub-message and string lengths in the order the walk meets them. */
  readonly lens: number[] = [];
  private readonly stack: number[] = [];

  uint32(v: number): this {
    this.len += varintSize(v >>> 0);
    return this;
  }
  int32(v: number): this {
    if (v < 0) {
      const [lo, hi] = longBits(v);
      this.len += varint64Size(lo, hi);
    } else this.len += varintSize(v >>> 0);
    return this;
  }
  int64(v: number): this {
    const [lo, hi] = longBits(v);
    this.len += varint64Size(lo, hi);
    return this;
  }
  bool(): this {
    this.len += 1;
    return this;
  }
  double(): this {
    this.len += 8;
    return this;
  }
  string(v: string): this {
    const n = utf8Length(v);
    this.lens.push(n);
    this.len += varintSize(n) + n;
    return this;
  }
  bytes(v: Uint8Array): this {
    this.len += varintSize(v.length) + v.length;
    return this;
  }
  fork(): this {
    this.stack.push(this.len, this.lens.length);
    this.lens.push(0);
    this.len = 0;
    return this;
  }
  ldelim(): this {
    const inner = this.len;
    const at = this.stack.pop() as number;
    const outer = this.stack.pop() as number;
    this.lens[at] = inner;
    this.len = outer + varintSize(inner) + inner;
    return this;
  }
}

/** Pass 2: the bytes, into one Buffer of the size pass 1 found. */
export class DirectWriter implements ProtoSink {
  readonly buf: Buffer;
  private pos = 0;
  private next = 0;

  constructor(private readonly sized: Sizer) {
    this.buf = Buffer.allocUnsafe(sized.len);
  }

  /** The bytes; throws if the two passes disagreed (a message changed in between). */
  finish(): Buffer {
    if (this.pos !== this.buf.length || this.next !== this.sized.lens.length) throw new Error('wire writer: the passes disagree');
    return this.buf;
  }

  private varint(v: number): void {
    const b = this.buf;
    while (v > 127) {
      b[this.pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    b[this.pos++] = v;
  }

  private varint64(lo: number, hi: number): void {
    const b = this.buf;
    while (hi !== 0) {
      b[this.pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 127) {
      b[this.pos++] = (lo & 127) | 128;
      lo >>>= 7;
    }
    b[this.pos++] = lo;
  }

  uint32(v: number): this {
    this.varint(v >>> 0);
    return this;
  }
  int32(v: number): this {
    if (v < 0) {
      const [lo, hi] = longBits(v);
      this.varint64(lo, hi);
    } else this.varint(v >>> 0);
    return this;
  }
  int64(v: number): this {
    const [lo, hi] = longBits(v);
    this.varint64(lo, hi);
    return this;
  }
  bool(v: boolean): this {
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }
  double(v: number): this {
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
    return this;
  }
  string(v: string): this {
    const n = this.sized.lens[this.next++] as number;
    this.varint(n);
    const b = this.buf;
    if (n === v.length) {
      for (let i = 0; i < n; i++) b[this.pos + i] = v.charCodeAt(i);
    } else if (v.length < SHORT_STRING) protobuf.util.utf8.write(v, b, this.pos);
    else b.write(v, this.pos, n, 'utf8');
    this.pos += n;
    return this;
  }
  bytes(v: Uint8Array): this {
    this.varint(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }
  fork(): this {
    this.varint(this.sized.lens[this.next++] as number);
    return this;
  }
  ldelim(): this {
    return this;
  }
}
