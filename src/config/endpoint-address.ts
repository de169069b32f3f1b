// Endpoint addresses as Envoy's override_host policy matches them: `ip:port`
// (IPv4) or `[ipv6]:port`, resolved addresses, never host names.
import { isIP } from 'node:net';
import { z } from 'zod';

export function parseEndpoint(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const host = (m[1] ?? m[2]) as string;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const family = isIP(host);
  if (family === 0 || (m[1] !== undefined && family !== 6) || (m[2] !== undefined && family !== 4)) return undefined;
  return { host, port };
}

export const endpointAddress = z.string().refine((s) => parseEndpoint(s) !== undefined, {
  message: 'must be ip:port (IPv4) or [ipv6]:port; Envoy override_host matches resolved addresses',
});
