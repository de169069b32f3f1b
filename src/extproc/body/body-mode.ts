// Which body reader a request gets: what the filter announced in protocol_config, else
// server.body_mode. Modes kvfleet cannot route with (no body, STREAMED, BUFFERED_PARTIAL,
// GRPC) and an announcement that contradicts server.body_mode are a 500
// unsupported_body_mode: never a half-parsed body.
import type { BODY_MODES } from '../../config/names.js';
import { KvError } from '../../errors.js';
import type { BodySendMode } from '../proto-types.js';

export function isFullDuplex(setting: (typeof BODY_MODES)[number], config: { request_body_mode?: BodySendMode } | undefined): boolean {
  if (config === undefined) return setting === 'full-duplex';
  const announced = config.request_body_mode ?? 'NONE';
  if (announced !== 'BUFFERED' && announced !== 'FULL_DUPLEX_STREAMED') {
    throw new KvError('unsupported_body_mode', `the proxy's ext_proc filter sends request bodies as ${announced}; kvfleet routes on the body and needs BUFFERED or FULL_DUPLEX_STREAMED`, null);
  }
  const duplex = announced === 'FULL_DUPLEX_STREAMED';
  if (setting !== 'auto' && duplex !== (setting === 'full-duplex')) {
    throw new KvError('unsupported_body_mode', `the proxy's ext_proc filter announces ${announced} but server.body_mode is ${setting}`, null);
  }
  return duplex;
}
