// Who is asking: the request's tenant, from the sources identity.sources names, in order.
//   api_key  `Authorization: Bearer <key>`; sha256(key) is looked up among the tenants' key
//            hashes (fleet file and identity.keys_file). A key that is sent but unknown is a
//            401 — a wrong key never falls through to another source or the anonymous tenant.
//   jwt      the payload Envoy's jwt_authn verified and wrote to dynamic metadata
//            (payload_in_metadata), forwarded to kvfleet by the ext_proc filter's
//            metadata_options.forwarding_namespaces; the claim path names the tenant.
//   header   a header an Envoy filter set before kvfleet (e.g. jwt_authn claim_to_headers),
//            trusted only because the fleet file names it; envoy/envoy.yaml removes the
//            client's own copy before that filter runs.
// No source names a tenant: identity.anonymous, else 401 invalid_api_key.
// The key itself is never kept, logged or sent on (the exchange removes Authorization).
import { createHash } from 'node:crypto';
import type { FleetPolicy, PolicyModel, Tenant } from '../config/policy.js';
import { kvError } from '../errors.js';

/** google.protobuf.Struct / Value as the ext_proc metadata carries them (protobufjs shapes). */
export interface StructLike {
  readonly fields?: Readonly<Record<string, ValueLike>> | undefined;
}
export interface ValueLike {
  readonly stringValue?: string | undefined;
  readonly numberValue?: number | undefined;
  readonly structValue?: StructLike | undefined;
}
export type FilterMetadata = Readonly<Record<string, StructLike>> | undefined;

export interface Identity<M extends PolicyModel> {
  readonly tenant: Tenant<M> | undefined;
  readonly source: 'api_key' | 'jwt' | 'header' | 'anonymous' | 'none';
}

/** `sha256:<hex>` of an API key, as tenants.*.api_keys stores it (`kvfleet keys hash`). */
export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

function bearer(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
  return m?.[1];
}

function claim(payload: StructLike | undefined, path: string): string | undefined {
  let node: ValueLike | undefined = { structValue: payload };
  for (const part of path.split('.')) node = node?.structValue?.fields?.[part];
  if (node?.stringValue !== undefined) return node.stringValue;
  if (node?.numberValue !== undefined) return String(node.numberValue);
  return undefined;
}

export function resolveIdentity<M extends PolicyModel>(policy: FleetPolicy<M>, headers: ReadonlyMap<string, string>, metadata: FilterMetadata): Identity<M> {
  const cfg = policy.identity;
  if (cfg === undefined) return { tenant: undefined, source: 'none' };
  const known = (id: string | undefined): Tenant<M> | undefined => {
    if (id === undefined) return undefined;
    const t = policy.tenants.get(id);
    if (t === undefined) throw kvError('invalid_api_key', { problem: 'no_tenant' });
    return t;
  };
  for (const s of cfg.sources) {
    if (s === 'api_key') {
      const key = bearer(headers.get('authorization'));
      if (key === undefined) continue;
      const id = policy.keys.get(hashApiKey(key));
      if (id === undefined) throw kvError('invalid_api_key', { problem: 'unknown' });
      return { tenant: known(id), source: 'api_key' };
    }
    if ('jwt' in s) {
      const t = known(claim(metadata?.[s.jwt.namespace]?.fields?.[s.jwt.key]?.structValue, s.jwt.claim));
      if (t !== undefined) return { tenant: t, source: 'jwt' };
      continue;
    }
    const v = headers.get(s.header)?.trim();
    const t = known(v === '' ? undefined : v);
    if (t !== undefined) return { tenant: t, source: 'header' };
  }
  if (cfg.anonymous !== undefined) return { tenant: policy.tenants.get(cfg.anonymous), source: 'anonymous' };
  throw kvError('invalid_api_key', { problem: 'missing' });
}
