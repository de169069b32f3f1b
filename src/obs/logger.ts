// pino logger. One structured line per decision (see decision-log.ts); never
// prompt text. JSON to stderr by default so stdout stays free for CLI output.
// Lines are buffered (up to 8 KiB) and flushed at most 100 ms after they are written: one
// write(2) per line cost ≈ 100 µs of CPU per request under load (measured with --cpu-prof).
// The flush timer is armed by the first line after a flush, never idle: sonic-boom's flush()
// of an empty buffer still issues an (empty) write through libuv's thread pool, and an
// interval timer wakes an idle process ten times a second for nothing.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const BUFFER_BYTES = 8 * 1024;
const FLUSH_MS = 100;

export function createLogger(level: string = process.env['KVFLEET_LOG_LEVEL'] ?? 'info'): Logger {
  const dest = pino.destination({ fd: 2, sync: false, minLength: BUFFER_BYTES });
  let timer: NodeJS.Timeout | undefined;
  const flushLater = (): void => {
    timer = undefined;
    dest.flush();
  };
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
      if (timer === undefined) (timer = setTimeout(flushLater, FLUSH_MS)).unref();
      return dest.write(line);
    },
    flush(cb) {
      dest.flush(cb);
    },
  };
  return pino({ level, base: { svc: 'kvfleet' } }, stream);
}
