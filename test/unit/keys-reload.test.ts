// identity.keys_file is re-read on reload (SIGHUP): a key added there works at once, a key
// removed stops working, and a broken keys file keeps the running keys.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import { exchangeEnv } from '../../src/extproc/exchange-env.js';
import { createLogger } from '../../src/obs/logger.js';
import { hashApiKey } from '../../src/request/identity.js';
import { serve, type Running } from '../../src/serve.js';
import { immediate, post } from '../helpers/exchange.js';

let dir: string;
let running: Running;
const keysFile = () => join(dir, 'keys.yaml');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvfleet-keys-reload-'));
  await writeFile(
    join(dir, 'fleet.yaml'),
    `
server: { grpc: { port: 0 }, admin: { port: 0 } }
scrape: { enabled: false }
models: [{ name: m, cluster: c, model_id: m, endpoints: [10.0.0.1:8000] }]
identity: { sources: [api_key], keys_file: keys.yaml }
tenants: { acme: {} }
`,
  );
  await writeFile(keysFile(), `acme: [${hashApiKey('key-one')}]\n`);
  running = await serve({ fleetPath: join(dir, 'fleet.yaml'), logger: createLogger('silent') });
});
afterAll(() => running?.stop(0));

/** The tenant a key resolves to through the exchange, or the error code. */
function tenantOf(key: string): string {
  const ex = new Exchange(exchangeEnv(running.router));
  const r = ex.handle({ request_headers: post('/v1/chat/completions', { authorization: `Bearer ${key}` }) });
  ex.close();
  return r.immediate_response !== undefined ? immediate(r).body.error.code : 'ok';
}

describe('keys file reload', () => {
  it('picks up added and removed keys; a broken file keeps the running keys', async () => {
    expect(tenantOf('key-one')).toBe('ok');
    expect(tenantOf('key-two')).toBe('invalid_api_key');
    await writeFile(keysFile(), `acme: [${hashApiKey('key-two')}]\n`);
    expect((await running.reload()).ok).toBe(true);
    expect(tenantOf('key-two')).toBe('ok');
    expect(tenantOf('key-one')).toBe('invalid_api_key');
    await writeFile(keysFile(), 'acme: nope\n');
    const r = await running.reload();
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toContain('acme');
    expect(tenantOf('key-two')).toBe('ok');
  });
});
