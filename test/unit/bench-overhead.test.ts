// Pieces of `kvfleet bench overhead` that can be checked without running Envoy: the floor
// processor answers each ext_proc message with the matching kind (Envoy fails a request on
// a mismatched answer) and routes to the bench pool; the bench bootstrap switches kvfleet's
// filter, and only kvfleet's, to the full-duplex body mode.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BENCH_CLUSTER, benchBootstrap } from '../../src/tools/bench/envoy-bootstrap.js';
import { floorAnswers } from '../../src/tools/bench/floor-processor.js';
import { forEachProcessingMode } from '../../src/tools/envoy/processing-mode.js';
import { REPO_ROOT } from '../helpers/envoy.js';
import { setHeaders } from '../helpers/exchange.js';

describe('floor processor', () => {
  const answer = floorAnswers(BENCH_CLUSTER);
  it('answers every message with its own kind and routes the body to the pool', () => {
    expect(Object.keys(answer({ request_headers: {} }))).toEqual(['request_headers']);
    const body = answer({ request_body: { body: Buffer.from('{}'), end_of_stream: true } });
    expect(body.request_body?.response.clear_route_cache).toBe(true);
    expect(setHeaders(body.request_body?.response.header_mutation?.set_headers)).toEqual({ 'x-kvfleet-cluster': BENCH_CLUSTER });
    expect(Object.keys(answer({ response_headers: {} }))).toEqual(['response_headers']);
    expect(Object.keys(answer({ request_trailers: {} }))).toEqual(['request_trailers']);
    expect(Object.keys(answer({ response_trailers: {} }))).toEqual(['response_trailers']);
  });
});

describe('bench bootstrap', () => {
  const source = readFileSync(join(REPO_ROOT, 'envoy', 'envoy.yaml'), 'utf8');
  const ports = { listener: 1, admin: 2, kvfleet: 3 };
  const modeOf = (yaml: string): unknown => {
    const modes: unknown[] = [];
    forEachProcessingMode(parse(yaml), (pm) => modes.push(pm));
    return modes[0];
  };
  it('keeps the shipped buffered mode unless asked, and switches to full duplex when asked', () => {
    expect(modeOf(benchBootstrap(source, 'kvfleet', ports, [9]))).toMatchObject({ request_body_mode: 'BUFFERED' });
    expect(modeOf(benchBootstrap(source, 'kvfleet', ports, [9], 'full-duplex'))).toMatchObject({
      request_body_mode: 'FULL_DUPLEX_STREAMED',
      response_trailer_mode: 'SEND',
    });
    expect(modeOf(benchBootstrap(source, 'plain', ports, [9], 'full-duplex'))).toBeUndefined();
  });
});
