// A JSON Lines file that never makes its caller wait: append() queues the line in memory and
// returns at once; a background flush (every flushMs, or sooner when a batch is ready) writes
// the queue with one append per batch. Bounded everywhere:
//   queue      at most maxBufferBytes waiting (plus what `reserve` holds for the caller); a line
//              that does not fit is dropped and counted — the writer is behind, memory stays flat
//   file       rotated before a write would take it past maxFileBytes: <path> → <path>.1 →
//              … → <path>.(maxFiles − 1), the oldest overwritten; maxFiles = 1 truncates
//   lines      one longer than maxFileBytes is dropped (it could never fit a file)
// A write that fails (disk full, the file removed under it) loses that batch: counted, told
// through onError, and the next batch tries again (the file is reopened).
import { open, rename, rm, type FileHandle } from 'node:fs/promises';

export interface RotatingJsonlOptions {
  readonly path: string;
  readonly maxFileBytes: number;
  /** Files kept, the current one included (≥ 1). */
  readonly maxFiles: number;
  readonly maxBufferBytes: number;
  /** How long a line may wait before it is written (default 200 ms). */
  readonly flushMs?: number | undefined;
  readonly onError?: ((e: unknown) => void) | undefined;
  /** Lines written, dropped (buffer full, too long) or failed (a write error), as they happen. */
  readonly onCount?: ((result: 'written' | 'dropped' | 'failed', n: number) => void) | undefined;
}

export interface RotatingJsonlStats {
  written: number;
  dropped: number;
  failed: number;
  rotations: number;
}

/** Past this many queued bytes a write starts at once instead of waiting for the timer. */
const EAGER_BYTES = 256 * 1024;
/** The most one append() writes. */
const BATCH_BYTES = 1024 * 1024;

export class RotatingJsonl {
  readonly stats: RotatingJsonlStats = { written: 0, dropped: 0, failed: 0, rotations: 0 };
  private queue: Array<{ line: string; bytes: number }> = [];
  private queuedBytes = 0;
  /** Bytes the caller set aside for lines it will append soon (Recorder: lines awaiting usage). */
  private reserved = 0;
  private fh: FileHandle | undefined;
  private size = 0;
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly o: RotatingJsonlOptions) {}

  /** Open (create) the file for appending; rejects when it cannot be (no such directory, no permission). */
  static async open(o: RotatingJsonlOptions): Promise<RotatingJsonl> {
    const w = new RotatingJsonl(o);
    await w.reopen();
    return w;
  }

  get path(): string {
    return this.o.path;
  }

  /** Bytes queued and reserved, not written yet. */
  get pendingBytes(): number {
    return this.queuedBytes + this.reserved;
  }

  /** Queue one line (no newline); false when it was dropped. */
  append(line: string): boolean {
    const bytes = Buffer.byteLength(line, 'utf8') + 1;
    if (this.closed || bytes > this.o.maxFileBytes || this.queuedBytes + this.reserved + bytes > this.o.maxBufferBytes) {
      this.count('dropped', 1);
      return false;
    }
    this.queue.push({ line, bytes });
    this.queuedBytes += bytes;
    if (this.queuedBytes >= EAGER_BYTES) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.o.flushMs ?? 200).unref();
    return true;
  }

  /** Set aside room in the buffer (false: no room); give it back with release() before appending. */
  reserve(bytes: number): boolean {
    if (this.closed || this.queuedBytes + this.reserved + bytes > this.o.maxBufferBytes) return false;
    this.reserved += bytes;
    return true;
  }

  release(bytes: number): void {
    this.reserved = Math.max(0, this.reserved - bytes);
  }

  /** Everything queued so far is written (or failed). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.writing !== undefined) {
      this.kick();
      await this.writing;
    }
  }

  /** Flush, then close the file; later appends are dropped. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
  }

  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.writing !== undefined || this.queue.length === 0) return;
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const first = this.queue[0] as { line: string; bytes: number };
      if (this.size > 0 && this.size + first.bytes > this.o.maxFileBytes) await this.rotate();
      if (this.size > 0 && this.size + first.bytes > this.o.maxFileBytes) {
        // Rotation failed (told through onError): the line is lost rather than the cap broken.
        this.queue.shift();
        this.queuedBytes -= first.bytes;
        this.count('failed', 1);
        continue;
      }
      // A batch: what fits the file's room and one write.
      let n = 0;
      let bytes = 0;
      const room = Math.min(BATCH_BYTES, this.o.maxFileBytes - this.size);
      for (const q of this.queue) {
        if (n > 0 && bytes + q.bytes > room) break;
        n++;
        bytes += q.bytes;
      }
      const batch = this.queue.splice(0, n);
      this.queuedBytes -= bytes;
      try {
        const fh = this.fh ?? (await this.reopen());
        await fh.write(batch.map((q) => `${q.line}\n`).join(''));
        this.size += bytes;
        this.count('written', n);
      } catch (e) {
        this.count('failed', n);
        await this.fh?.close().catch(() => undefined);
        this.fh = undefined;
        this.o.onError?.(e);
      }
    }
  }

  private count(result: 'written' | 'dropped' | 'failed', n: number): void {
    this.stats[result] += n;
    this.o.onCount?.(result, n);
  }

  private async reopen(): Promise<FileHandle> {
    const fh = await open(this.o.path, 'a');
    this.fh = fh;
    this.size = (await fh.stat()).size;
    return fh;
  }

  /** <path> → <path>.1 → … → <path>.(maxFiles − 1); then a new, empty <path>. */
  private async rotate(): Promise<void> {
    const p = this.o.path;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    const ignoreMissing = (e: unknown) => {
      if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    };
    try {
      if (this.o.maxFiles <= 1) await rm(p, { force: true });
      else {
        for (let i = this.o.maxFiles - 1; i >= 2; i--) await rename(`${p}.${i - 1}`, `${p}.${i}`).catch(ignoreMissing);
        await rename(p, `${p}.1`).catch(ignoreMissing);
      }
      this.stats.rotations++;
    } catch (e) {
      this.o.onError?.(e);
    }
    this.size = 0;
    try {
      await this.reopen();
    } catch (e) {
      this.o.onError?.(e);
    }
  }
}
