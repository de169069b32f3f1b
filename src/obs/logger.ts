// pino logger. One structured line per decision (see decision-log.ts); never
// prompt text. JSON to stderr by default so stdout stays free for CLI output.
// Lines are buffered (up to 8 KiB) and flushed every 100 ms: one write(2) per
// line cost ≈ 100 µs of CPU per request under load (measured with --cpu-prof).
// The timer flushes only when a line was written since the last flush: sonic-boom's
// flush() of an empty buffer still issues an (empty) write through libuv's thread pool,
// ten a second, which showed in the hot-path profile (hotpath-profile.ts) at log level warn.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const BUFFER_BYTES = 8 * 1024;
const FLUSH_MS = 100;

export function createLogger(level: string = process.env['KVFLEET_LOG_LEVEL'] ?? 'info'): Logger {
  const dest = pino.destination({ fd: 2, sync: false, minLength: BUFFER_BYTES });
  let dirty = false;
  const timer = setInterval(() => {
    if (!dirty) return;
    dirty = false;
    dest.flush();
  }, FLUSH_MS);
  timer.unref();
  // Whatever is still buffered goes out on a normal exit.
  process.once('beforeExit', () => dest.flushSync());
  process.once('exit', () => {
    try {
      dest.flushSync();
    } catch {
      // fd closed or not writable at exit: nothing more to do
    }
  });
  // pino writes through this; flush (logger.flush()) reaches sonic-boom as before.
  const stream: DestinationStream & { flush(cb?: (err?: Error) => void): void } = {
    write(line: string) {
      dirty = true;
      return dest.write(line);
    },
    flush(cb) {
      dest.flush(cb);
    },
  };
  return pino({ level, base: { svc: 'kvfleet' } }, stream);
}
