// Growing a typed-array column: a new array of the same kind and the given length holding the
// old contents, the rest zero. Used by structures kept in parallel typed arrays (the key LRU,
// the benchmark's event heap) when they double.

type Column = Float64Array | Int32Array | Uint8Array;

export function grown<C extends Column>(a: C, length: number): C {
  const Kind = a.constructor as new (length: number) => C;
  const out = new Kind(length);
  out.set(a);
  return out;
}
