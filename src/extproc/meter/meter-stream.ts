// One meter stream: Envoy's second ext_proc filter (observability mode: Envoy sends, never
// waits, never fails the request) copies a metered request's response to kvfleet — headers,
// then the body chunks. kvfleet answers nothing. The request's decision key comes with the
// headers (metadata_context: kvfleet's namespace, forwarded); the reading goes to the Router
// when the body ends, or when the stream is cut (an aborted response: charged what was
// generated).
import type { ProcessingRequest } from '../proto-types.js';
import { headerMap } from '../mutations.js';
import { UsageReader, type MeterReading } from './usage-reader.js';

export type MeterSink = (key: string, reading: MeterReading) => void;

export class MeterStream {
  private key: string | undefined;
  private readonly reader = new UsageReader();
  private done = false;

  constructor(private readonly sink: MeterSink) {}

  message(req: ProcessingRequest): void {
    if (this.done) return;
    if (req.response_headers !== undefined) {
      this.key = req.metadata_context?.filter_metadata?.['kvfleet']?.fields?.['key']?.stringValue;
      this.reader.headers(headerMap(req.response_headers).get('content-type'));
      if (req.response_headers.end_of_stream === true) this.finish(true);
      return;
    }
    if (req.response_body !== undefined) {
      this.reader.body(req.response_body.body ?? Buffer.alloc(0));
      if (req.response_body.end_of_stream === true) this.finish(true);
      return;
    }
    if (req.response_trailers !== undefined) this.finish(true);
  }

  /** The stream went away: a body that had not ended was cut. */
  close(): void {
    this.finish(false);
  }

  private finish(complete: boolean): void {
    if (this.done) return;
    this.done = true;
    if (this.key !== undefined) this.sink(this.key, this.reader.end(complete));
  }
}
