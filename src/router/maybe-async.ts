// A value now or later: the memory store and most requests answer synchronously (no
// promise, no microtask on the hot path); Redis, and requests held by flow control, later.
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/**
 * `f(v)` now when `v` is a value; `v.then(f)` when it is a promise. (Not named `then`: a
 * module exporting `then` makes its namespace a thenable, which `import()` would call.)
 */
export function andThen<T, R>(v: MaybePromise<T>, f: (t: T) => MaybePromise<R>): MaybePromise<R> {
  return isPromise(v) ? v.then(f) : f(v);
}
