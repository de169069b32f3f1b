// GET /v1/models, answered by kvfleet from the fleet file in OpenAI list format.
import type { Fleet, Model } from '../config/fleet.js';

/** Stable `created` so the answer does not change between calls. */
const CREATED = 0;

export function modelObject(m: Model): Record<string, unknown> {
  return { id: m.name, object: 'model', created: CREATED, owned_by: 'kvfleet', kvfleet: { type: m.type, engine: m.engine, aliases: m.aliases } };
}

export function modelList(fleet: Fleet): Record<string, unknown> {
  return { object: 'list', data: fleet.models.map(modelObject) };
}
