// Why an HTTP request from the command line got no answer, in a few words: Node's fetch
// throws "fetch failed" and keeps the reason (ECONNREFUSED, a timeout, …) in `cause`.

/** Why a request never got an answer, in a few words (Node's fetch hides it in `cause`). */
export function networkProblem(e: unknown): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return 'timed out';
  const cause = e instanceof Error ? (e as Error & { cause?: unknown }).cause : undefined;
  const code = cause !== null && typeof cause === 'object' && 'code' in cause ? String(cause.code) : undefined;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'timed out';
    default:
      return code ?? (cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e));
  }
}
