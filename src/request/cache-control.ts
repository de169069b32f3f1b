// The request's `cache-control` header, as the response cache reads it (RFC 9111 request
// directives; the others — max-age, min-fresh, only-if-cached … — are ignored):
//   no-store  the cache neither answers this request nor keeps its response
//   no-cache  the cache does not answer it, but keeps its fresh response (replacing the entry)
export type CacheDirective = 'default' | 'no-cache' | 'no-store';

export function cacheDirective(header: string | undefined): CacheDirective {
  if (header === undefined || header === '') return 'default';
  let out: CacheDirective = 'default';
  for (const raw of header.split(',')) {
    const d = raw.trim().toLowerCase();
    if (d === 'no-store') return 'no-store';
    if (d === 'no-cache' || d.startsWith('no-cache=')) out = 'no-cache';
  }
  return out;
}
