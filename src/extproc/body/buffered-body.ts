// BUFFERED request bodies: Envoy sends the whole body in one message after the headers
// answer; kvfleet answers it with one mutation (cluster header, endpoint list header +
// envoy.lb metadata, the rewritten body and its content-length), clear_route_cache.
import type { CommonResponse, HttpBody, ProcessingResponse } from '../proto-types.js';
import { andThen } from '../../router/maybe-async.js';
import type { Answers, BodyReader, RouteBody } from './body-reader.js';
import { isCached } from '../phases/request-body.js';

export class BufferedBody implements BodyReader {
  readonly holdsHeaders = false;
  readonly collecting = false;

  constructor(private readonly route: RouteBody) {}

  chunk(msg: HttpBody): Answers {
    return andThen(this.route(msg.body ?? Buffer.alloc(0)), (r): ProcessingResponse[] => {
      if (isCached(r)) return [r.answer];
      const response: CommonResponse = { status: 'CONTINUE', clear_route_cache: true, header_mutation: { set_headers: r.set } };
      if (r.rewritten !== undefined) response.body_mutation = { body: r.rewritten };
      return [{ request_body: { response }, dynamic_metadata: r.metadata }];
    });
  }

  trailers(): Answers {
    return [{ request_trailers: {} }];
  }
}
