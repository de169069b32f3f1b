// One meter stream: Envoy's second ext_proc filter (observability mode: Envoy sends, never
// waits, never fails the request) copies a metered request's response to kvfleet — headers,
// then the body chunks. kvfleet answers nothing. The request's decision key comes with the
// headers (metadata_context: kvfleet's namespace, forwarded); the reading goes to the Router
// when the body ends, or when the stream is cut (an aborted response: charged what was
// generated). A response the response cache waits for (its metadata carries a cache fill:
// extproc/cache-answer.ts) is also handed over, with its status, content-type and body.
import type { ProcessingRequest } from '../proto-types.js';
import { headerMap } from '../mutations.js';
import { readCacheFill } from '../cache-answer.js';
import type { CacheFill, CapturedResponse } from '../../router/response-cache.js';
import { UsageReader, type MeterReading } from './usage-reader.js';

export type MeterSink = (key: string, reading: MeterReading) => void;
/** A response the response cache asked for. */
export type CacheSink = (fill: CacheFill, response: CapturedResponse) => void;

export class MeterStream {
  private key: string | undefined;
  private fill: CacheFill | undefined;
  private status: number | undefined;
  private contentType: string | undefined;
  private readonly reader = new UsageReader();
  private done = false;

  constructor(
    private readonly sink: MeterSink,
    private readonly cacheSink?: CacheSink,
  ) {}

  message(req: ProcessingRequest): void {
    if (this.done) return;
    if (req.response_headers !== undefined) {
      const ns = req.metadata_context?.filter_metadata?.['kvfleet'];
      this.key = ns?.fields?.['key']?.stringValue;
      if (this.cacheSink !== undefined) this.fill = readCacheFill(ns);
      const h = headerMap(req.response_headers);
      this.contentType = h.get('content-type');
      const status = Number(h.get(':status'));
      this.status = Number.isInteger(status) ? status : undefined;
      this.reader.headers(this.contentType);
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
    const reading = this.reader.end(complete);
    if (this.key !== undefined) this.sink(this.key, reading);
    if (this.fill !== undefined && this.cacheSink !== undefined) {
      const j = this.reader.jsonBody();
      this.cacheSink(this.fill, { status: this.status, contentType: this.contentType, body: j.body, json: j.parsed, complete, truncated: j.truncated });
    }
  }
}
