// zod schema of `response_cache:` — the opt-in exact-match cache of deterministic,
// non-streamed requests (src/router/response-cache.ts). Off unless `enabled: true`; every
// other key has a default. `models` is cross-checked against the fleet's model names.
import { z } from 'zod';

const MiB = 1024 * 1024;

/**
 * The meter reads a JSON response body up to 4 MiB (extproc/meter/usage-reader.ts): a larger
 * response never reaches the cache, so an entry may not be larger either.
 */
export const MAX_ENTRY_BYTES_LIMIT = 4 * MiB;

export const responseCacheSchema = z
  .strictObject({
    /** Answer repeated deterministic requests from memory (off by default). */
    enabled: z.boolean().default(false),
    /** Bytes the entries may hold in all (response bodies + the key and bookkeeping); least recently used first out. */
    max_bytes: z
      .number()
      .int()
      .positive()
      .max(64 * 1024 * MiB)
      .default(64 * MiB),
    /** An entry is served for this long after it was stored, then dropped. */
    ttl_seconds: z
      .number()
      .positive()
      .max(7 * 24 * 3600)
      .default(300),
    /** A larger response is not stored. */
    max_entry_bytes: z.number().int().positive().max(MAX_ENTRY_BYTES_LIMIT, 'at most 4 MiB (the meter reads JSON bodies up to 4 MiB)').default(MiB),
    /** Only requests naming one of these fleet models (name or alias) are cached; unset: every model, `auto` included. */
    models: z.array(z.string().min(1)).min(1).optional(),
  })
  .prefault({})
  .refine((c) => c.max_entry_bytes <= c.max_bytes, { message: 'must not exceed max_bytes', path: ['max_entry_bytes'] });

export type ResponseCacheConfig = z.infer<typeof responseCacheSchema>;

/** `response_cache.models[i]` names a fleet model (`names`: every model name and alias). */
export function checkResponseCacheRefs(cache: unknown, names: ReadonlySet<string>, ctx: z.core.$RefinementCtx): void {
  const parsed = responseCacheSchema.safeParse(cache);
  if (!parsed.success) return;
  parsed.data.models?.forEach((m, i) => {
    if (!names.has(m)) ctx.addIssue({ code: 'custom', path: ['response_cache', 'models', i], message: `"${m}" is not a model name or alias in models[]` });
  });
}
