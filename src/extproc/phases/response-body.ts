// The response body, which kvfleet never asks for (response_body_mode NONE in envoy/). When a
// gateway sends it anyway it passes unchanged: CONTINUE in the buffered and streamed modes; in
// FULL_DUPLEX_STREAMED mode (some endpoint-picker gateways configure it) Envoy forwards only
// what the processor sends back, so each chunk is handed back as it came.
import { CONTINUE, streamedBody } from '../mutations.js';
import type { HttpBody, ProcessingResponse } from '../proto-types.js';

export function passResponseBody(duplex: boolean, msg: HttpBody): ProcessingResponse {
  if (!duplex) return { response_body: { response: CONTINUE } };
  return streamedBody('response_body', msg.body ?? Buffer.alloc(0), msg.end_of_stream === true);
}
