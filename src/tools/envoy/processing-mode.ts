// The ext_proc request-body modes kvfleet serves, as edits of a parsed Envoy bootstrap.
//   full-duplex  envoy/envoy.yaml as shipped (the endpoint-picker protocol's mode):
//                request_body_mode FULL_DUPLEX_STREAMED, Envoy sends the body chunks without
//                waiting; kvfleet answers the headers once the body is complete (with the
//                route) and sends the body back; request trailers SEND (Envoy requires it).
//                The response side is skipped, so Envoy half-closes the stream right after
//                kvfleet's last answer: a kvfleet restart never cuts a response.
//   buffered     request_body_mode BUFFERED: Envoy buffers the body, sends the headers, waits
//                for kvfleet's answer, then sends the whole body (two round trips). Envoy keeps
//                the stream until the HTTP stream ends (src/extproc/server.ts).
export type ExtProcMode = 'buffered' | 'full-duplex';

export const EXT_PROC_MODES: readonly ExtProcMode[] = ['buffered', 'full-duplex'];

const BUFFERED = {
  request_body_mode: 'BUFFERED',
  request_trailer_mode: 'SKIP',
} as const;

/** Calls `fn` with the processing_mode of every ext_proc filter in the bootstrap; returns how many. */
export function forEachProcessingMode(bootstrap: unknown, fn: (processingMode: Record<string, unknown>) => void): number {
  let seen = 0;
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    if (obj['name'] === 'envoy.filters.http.ext_proc') {
      const cfg = obj['typed_config'] as Record<string, unknown> | undefined;
      const pm = cfg?.['processing_mode'];
      if (pm !== null && typeof pm === 'object') {
        fn(pm as Record<string, unknown>);
        seen++;
      }
    }
    for (const v of Object.values(obj)) walk(v);
  };
  walk(bootstrap);
  return seen;
}

/** Every ext_proc filter's processing_mode in the bootstrap; returns how many were changed. */
export function setExtProcMode(bootstrap: unknown, mode: ExtProcMode): number {
  if (mode === 'full-duplex') return 0;
  return forEachProcessingMode(bootstrap, (pm) => Object.assign(pm, BUFFERED));
}
