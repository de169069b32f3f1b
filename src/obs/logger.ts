// pino logger. One structured line per decision (see decision-log.ts); never
// prompt text. JSON to stderr by default so stdout stays free for CLI output.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env['KVFLEET_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ level, base: { svc: 'kvfleet' } }, pino.destination({ fd: 2, sync: false }));
}
