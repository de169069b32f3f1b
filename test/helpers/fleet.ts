import { parseFleet } from '../../src/config/load.js';
import type { Fleet } from '../../src/config/fleet.js';

export const TWO_MODEL_YAML = `
default_model: small
server: { max_body_bytes: 2048 }
models:
  - name: small
    aliases: [tiny]
    cluster: pool-small
    model_id: org/Small-1B
    endpoints: [10.0.0.1:8000, 10.0.0.2:8000, 10.0.0.3:8000]
  - name: big
    cluster: pool-big
    model_id: big
    host: api.example.com
    endpoints: [10.0.1.1:8000]
`;

export function fleetFrom(yaml: string = TWO_MODEL_YAML): Fleet {
  const res = parseFleet(yaml);
  if (!res.ok) throw new Error(res.problems.join('\n'));
  return res.fleet;
}
