// Which requests the response cache may answer, and the key it files them under (pure).
//
// Deterministic only: an embedding request (always), or a chat / text completion that is not
// streamed and either samples greedily (`temperature: 0`) or fixes its `seed` (an engine's
// per-request seed makes sampling reproducible). Everything else bypasses the cache.
//
// The key: tenant + API + the model the request names (resolved: an alias files under its
// model's name; `auto` stays `auto`) + the per-request headers that steer the choice of model
// or the policy (x-kvfleet-strategy, x-kvfleet-models, x-kvfleet-data-class) + the canonical
// body, hashed into 128 bits (two xxHash64 seeds). Canonical body: the JSON re-rendered with
//   - key order normalised where it cannot change the answer: the body's own fields, each
//     message's fields, each content part's fields;
//   - key order KEPT inside every other value (tool definitions, response_format schemas,
//     logit_bias …): engines render tools into the prompt and schemas into the grammar in the
//     order given, so a different order can give a different answer;
//   - `model` left out (it is in the key, resolved), `stream: false` and `stream_options`
//     left out (a non-streamed request: they change nothing);
//   - `user` KEPT: it changes no answer, but a hit tells the client that an identical request
//     was sent recently; with `user` in the key that signal stays with the end user who sent
//     it (when the client names its users), not every user of the tenant.
// Numbers are rendered as JSON.parse read them (`0.0` and `0` are the same request).
import type { ApiKind } from '../../config/names.js';
import { chainHash } from '../hash.js';

/** Why a request is not cacheable (x-kvfleet-cache: bypass). */
export type BypassReason = 'stream' | 'sampling' | 'no-store' | 'model';

/** Whether the answer to this body is determined by the body: undefined = yes, else why not. */
export function nondeterministic(api: ApiKind, body: Readonly<Record<string, unknown>>): BypassReason | undefined {
  if (api === 'embedding') return undefined;
  if (body['stream'] === true) return 'stream';
  if (body['temperature'] === 0) return undefined;
  const seed = body['seed'];
  return typeof seed === 'number' && Number.isSafeInteger(seed) ? undefined : 'sampling';
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{…}` with its own keys sorted; values rendered by `value`. */
function sortedObject(o: Readonly<Record<string, unknown>>, value: (k: string, v: unknown) => string, skip?: (k: string, v: unknown) => boolean): string {
  const keys = Object.keys(o).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = o[k];
    if (v === undefined || skip?.(k, v) === true) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${value(k, v)}`;
    first = false;
  }
  return `${out}}`;
}

const verbatim = (_k: string, v: unknown): string => JSON.stringify(v);

/** A content part or any other list element: its own keys sorted, values verbatim. */
const part = (v: unknown): string => (isRecord(v) ? sortedObject(v, verbatim) : JSON.stringify(v));

function message(m: unknown): string {
  if (!isRecord(m)) return JSON.stringify(m);
  return sortedObject(m, (k, v) => (k === 'content' && Array.isArray(v) ? `[${v.map(part).join(',')}]` : JSON.stringify(v)));
}

/** Fields that never change a non-streamed request's answer, or are keyed apart (model). */
const LEFT_OUT = (k: string, v: unknown): boolean => k === 'model' || k === 'stream_options' || (k === 'stream' && v !== true);

/** The canonical rendering of a request body (see the header). */
export function canonicalBody(body: Readonly<Record<string, unknown>>): string {
  return sortedObject(body, (k, v) => (k === 'messages' && Array.isArray(v) ? `[${v.map(message).join(',')}]` : JSON.stringify(v)), LEFT_OUT);
}

export interface KeyParts {
  readonly tenant: string;
  readonly api: ApiKind;
  /** The fleet model the request names (its name, also when it named an alias), or `auto`. */
  readonly model: string;
  readonly strategy: string | undefined;
  readonly models: readonly string[] | undefined;
  readonly dataClass: string | undefined;
  readonly body: Readonly<Record<string, unknown>>;
}

const SEED_A = 0n;
const SEED_B = 0x9e3779b97f4a7c15n;
const hex = (h: bigint): string => h.toString(16).padStart(16, '0');

/** The 128-bit key (32 hex characters) of a cacheable request. */
export function requestKey(p: KeyParts): string {
  const material = `${p.api}\u0000${p.tenant}\u0000${p.model}\u0000${p.strategy ?? ''}\u0000${p.models?.join(',') ?? ''}\u0000${p.dataClass ?? ''}\u0000${canonicalBody(p.body)}`;
  return hex(chainHash(material, SEED_A)) + hex(chainHash(material, SEED_B));
}
