// What the prompt is: the request's data class and what PII detection found.
//   class   = max(policy.default_class, tenant's default_data_class, x-kvfleet-data-class,
//                 classOf[d] for every detector d that fired with action route_private)
//             (a client may raise its class with the header, never lower it)
//   redact  = detectors that fired with action `redact`: their values are replaced before the
//             request goes upstream, and they do not raise the class
//   block   = the first detector that fired with action `block` (403 policy_denied)
//   rules   = policy rules whose `when` holds for this class, tenant and detections
// Detection runs over every prompt text (each message, text part and tool-call argument) with
// the enabled detectors only; findings are never kept, only detector names.
import type { FleetPolicy, PolicyModel, ResolvedRule, Tenant } from '../../config/policy.js';
import type { PiiDetector } from '../../config/names.js';
import { detectPii } from './pii/index.js';

export interface Classification<M extends PolicyModel = PolicyModel> {
  /** Index into policy.classes. */
  readonly dataClass: number;
  /** Every detector that fired, in detector order. */
  readonly detected: readonly PiiDetector[];
  /** Detectors whose values are redacted. */
  readonly redact: ReadonlySet<PiiDetector>;
  /** A detector whose action is `block` fired. */
  readonly blockedBy: PiiDetector | undefined;
  /** Policy rules that apply to this request. */
  readonly rules: readonly ResolvedRule<M>[];
  /** Whether a route_private finding raised the class above what tenant and header set. */
  readonly raisedByPii: boolean;
}

export function classify<M extends PolicyModel>(
  texts: Iterable<string>,
  policy: FleetPolicy<M>,
  tenant: Tenant<M> | undefined,
  headerClass: number | undefined,
): Classification<M> {
  let cls = Math.max(policy.defaultClass, tenant?.defaultClass ?? 0, headerClass ?? 0);
  const base = cls;
  const fired = new Set<PiiDetector>();
  const pii = policy.pii;
  if (pii.enabled && pii.detectors.size > 0) {
    for (const t of texts) for (const d of detectPii(t, pii.detectors)) fired.add(d);
  }
  const redact = new Set<PiiDetector>();
  let blockedBy: PiiDetector | undefined;
  const detected: PiiDetector[] = [];
  for (const d of pii.detectors) {
    if (!fired.has(d)) continue;
    detected.push(d);
    const action = pii.actionOf[d];
    if (action === 'block') blockedBy ??= d;
    else if (action === 'redact') redact.add(d);
    else cls = Math.max(cls, pii.classOf[d]);
  }
  const bit = 1 << cls;
  const rules = policy.rules.filter(
    (r) =>
      (r.classMask === undefined || (r.classMask & bit) !== 0) &&
      (r.tenants === undefined || (tenant !== undefined && r.tenants.has(tenant.id))) &&
      (r.detectors === undefined || detected.some((d) => r.detectors?.has(d))),
  );
  return { dataClass: cls, detected, redact, blockedBy, rules, raisedByPii: cls > base };
}
