// Which body reader a request gets: what the filter announced in protocol_config, else
// server.body_mode. Modes kvfleet cannot route with (no body, STREAMED, BUFFERED_PARTIAL,
// GRPC) and an announcement that contradicts server.body_mode are a 500
// unsupported_body_mode: never a half-parsed body.
import type { BODY_MODES } from '../../config/names.js';
import { kvError } from '../../errors.js';
import type { BodySendMode } from '../proto-types.js';

export function isFullDuplex(setting: (typeof BODY_MODES)[number], config: { request_body_mode?: BodySendMode } | undefined): boolean {
  if (config === undefined) return setting === 'full-duplex';
  const announced = config.request_body_mode ?? 'NONE';
  if (announced !== 'BUFFERED' && announced !== 'FULL_DUPLEX_STREAMED') {
    throw kvError('unsupported_body_mode', { announced });
  }
  const duplex = announced === 'FULL_DUPLEX_STREAMED';
  if (setting !== 'auto' && duplex !== (setting === 'full-duplex')) {
    throw kvError('unsupported_body_mode', { announced, setting });
  }
  return duplex;
}
