// One benchmark request (POST, JSON body, streamed answer) over node:http(s) with a
// keep-alive agent. The load generator shares the machine with what it measures, so
// its own cost matters: fetch() (undici, WHATWG streams, AbortSignal) cost ≈ 1 ms of
// CPU per request on this project's 2-vCPU machine, node:http about half of that.
import http from 'node:http';
import https from 'node:https';

export interface Answer {
  readonly status: number;
  /** Response header (lowercase name) or undefined. */
  header(name: string): string | undefined;
  /** ms from the start to the first non-empty body chunk (NaN without a body). */
  readonly firstByteMs: number;
  /** ms from the start to the end of the body. */
  readonly endMs: number;
}

export class RequestTimeout extends Error {
  override readonly name = 'TimeoutError';
}

const httpAgent = new http.Agent({ keepAlive: true });
const httpsAgent = new https.Agent({ keepAlive: true });

/** POST `body` to `url`, read the whole answer (each chunk to `onData`); rejects on network errors and after `timeoutMs`. */
export function postStreaming(
  url: string,
  headers: Readonly<Record<string, string>>,
  body: string,
  timeoutMs: number,
  onData?: (chunk: Buffer) => void,
): Promise<Answer> {
  const t0 = performance.now();
  return new Promise<Answer>((resolve, reject) => {
    const secure = url.startsWith('https:');
    const payload = Buffer.from(body);
    let done = false;
    const fail = (e: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      reject(e);
    };
    const req = (secure ? https : http).request(
      url,
      { method: 'POST', agent: secure ? httpsAgent : httpAgent, headers: { ...headers, 'content-length': String(payload.length) } },
      (res) => {
        let firstByteMs = Number.NaN;
        res.on('data', (chunk: Buffer) => {
          if (Number.isNaN(firstByteMs) && chunk.length > 0) firstByteMs = performance.now() - t0;
          onData?.(chunk);
        });
        res.on('error', fail);
        res.on('end', () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const h = res.headers;
          resolve({
            status: res.statusCode ?? 0,
            header: (name) => {
              const v = h[name];
              return Array.isArray(v) ? v.join(', ') : v;
            },
            firstByteMs,
            endMs: performance.now() - t0,
          });
        });
      },
    );
    const timer = setTimeout(() => fail(new RequestTimeout(`no complete answer after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', fail);
    req.end(payload);
  });
}
