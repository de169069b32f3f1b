// zod schema of `shadow:` in the fleet file: shadow traffic (README "Shadow traffic").
//   shadow:
//     - model: llama-3-8b            # requests kvfleet routes to this model…
//       candidates: [qwen-2.5-7b]    # …are also mirrored (by Envoy) to each of these
//       sample_rate: 0.1             # share of the model's requests that are mirrored
// Checked against the models: every name resolves (a name or an alias), a candidate is never
// the model itself nor listed twice, a model has one entry. At most MAX_SHADOW_CANDIDATES
// candidates per model: one per mirror policy of envoy/envoy.yaml's routes.
import { z } from 'zod';

/** Mirror policies on each route of envoy/envoy.yaml (x-kvfleet-mirror-1 … -4). */
export const MAX_SHADOW_CANDIDATES = 4;

const modelName = z.string().min(1);

export const shadowRuleSchema = z.strictObject({
  /** The model whose requests are mirrored (a name or an alias). */
  model: modelName,
  /** Models that receive a copy of each sampled request; the client only ever sees `model`'s answer. */
  candidates: z
    .array(modelName)
    .min(1, 'name at least one candidate model')
    .max(MAX_SHADOW_CANDIDATES, `at most ${MAX_SHADOW_CANDIDATES} candidates per model (one per mirror policy of envoy/envoy.yaml)`),
  /** Share of the model's routed requests that are mirrored, 0..1 (drawn per request). */
  sample_rate: z.number().min(0, 'sample_rate must be between 0 and 1').max(1, 'sample_rate must be between 0 and 1'),
});

export const shadowSchema = z.array(shadowRuleSchema).default([]);

export type ShadowRuleFile = z.infer<typeof shadowRuleSchema>;

interface RefContext {
  addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void;
}

/** Model references: name or alias → the model's name. */
export function checkShadowRefs(rules: readonly ShadowRuleFile[], resolve: ReadonlyMap<string, string>, ctx: RefContext): void {
  const shadowed = new Map<string, number>();
  rules.forEach((r, i) => {
    const model = resolve.get(r.model);
    if (model === undefined) {
      ctx.addIssue({ code: 'custom', path: ['shadow', i, 'model'], message: `"${r.model}" is not a model name or alias in models[]` });
    } else {
      const prev = shadowed.get(model);
      if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['shadow', i, 'model'], message: `"${model}" is already shadowed by shadow[${prev}]` });
      else shadowed.set(model, i);
    }
    const seen = new Set<string>();
    r.candidates.forEach((c, j) => {
      const path = ['shadow', i, 'candidates', j];
      const cand = resolve.get(c);
      if (cand === undefined) ctx.addIssue({ code: 'custom', path, message: `"${c}" is not a model name or alias in models[]` });
      else if (cand === model) ctx.addIssue({ code: 'custom', path, message: `"${c}" is the shadowed model itself; a candidate must be another model` });
      else if (seen.has(cand)) ctx.addIssue({ code: 'custom', path, message: `"${c}" is listed twice` });
      else seen.add(cand);
    });
  });
}
