// GET /v1/models, answered by kvfleet from the fleet file in OpenAI list format; a tenant
// sees only the models it may use.
import type { Fleet, FleetTenant, Model } from '../config/fleet.js';
import { tenantVerdict } from '../core/policy/compliance.js';

/** Stable `created` so the answer does not change between calls. */
const CREATED = 0;

export function modelObject(m: Model): Record<string, unknown> {
  return { id: m.name, object: 'model', created: CREATED, owned_by: 'kvfleet', kvfleet: { type: m.type, engine: m.engine, aliases: m.aliases } };
}

export function visibleTo(m: Model, tenant: FleetTenant | undefined): boolean {
  return tenantVerdict(m, tenant) === undefined;
}

export function modelList(fleet: Fleet, tenant: FleetTenant | undefined): Record<string, unknown> {
  return { object: 'list', data: fleet.models.filter((m) => visibleTo(m, tenant)).map(modelObject) };
}
