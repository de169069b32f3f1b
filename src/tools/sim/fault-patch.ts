// JSON body of POST /sim/faults and POST /replicas/<i>/faults, validated with zod.
// {error_rate?, error_status?, retry_after?, added_latency_ms?, refuse?, unhealthy?}; unknown keys → 400.
import { z } from 'zod';
import type { FaultSettings } from './options.js';

const FaultPatchSchema = z.strictObject({
  error_rate: z.number().min(0).max(1).optional(),
  error_status: z.literal([500, 503, 429]).optional(),
  retry_after: z.number().min(0).max(86_400).optional(),
  added_latency_ms: z.number().min(0).max(600_000).optional(),
  refuse: z.boolean().optional(),
  unhealthy: z.boolean().optional(),
});

export type FaultPatch = Partial<FaultSettings>;

export type FaultPatchResult = { ok: true; patch: FaultPatch } | { ok: false; message: string };

export function parseFaultPatch(body: unknown): FaultPatchResult {
  const r = FaultPatchSchema.safeParse(body ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
    return { ok: false, message: `${where}: ${issue?.message ?? 'invalid fault settings'}` };
  }
  const d = r.data;
  const patch: FaultPatch = {};
  if (d.error_rate !== undefined) patch.errorRate = d.error_rate;
  if (d.error_status !== undefined) patch.errorStatus = d.error_status;
  if (d.retry_after !== undefined) patch.retryAfter = d.retry_after;
  if (d.added_latency_ms !== undefined) patch.addedLatencyMs = d.added_latency_ms;
  if (d.refuse !== undefined) patch.refuse = d.refuse;
  if (d.unhealthy !== undefined) patch.unhealthy = d.unhealthy;
  return { ok: true, patch };
}

/** Fault settings as JSON (snake_case, like the request body). */
export function faultsJson(f: FaultSettings): Record<string, number | boolean> {
  return {
    error_rate: f.errorRate,
    error_status: f.errorStatus,
    retry_after: f.retryAfter,
    added_latency_ms: f.addedLatencyMs,
    refuse: f.refuse,
    unhealthy: f.unhealthy,
  };
}
