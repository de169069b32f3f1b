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
// Numbers are rendered as JSON.parse read them (`0.0` and `0` are the same request); strings
// are length-prefixed rather than escaped, so a long prompt costs one pass (the hash).
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

/**
 * A JSON value rendered for hashing, self-delimiting without escaping (a prompt is appended as
 * it is, not scanned for characters to escape): strings `s<length>:<text>`, numbers
 * `n<number>`, `t` `f` `z` (null), arrays `[…]`, objects `{key value …}` in their own key
 * order (`sorted` = false) or sorted.
 */
function render(v: unknown, sorted: boolean, child: (k: string, v: unknown) => string = (_k, x) => render(x, false)): string {
  if (typeof v === 'string') return `s${v.length}:${v}`;
  if (typeof v === 'number') return `n${v}`;
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (v === null || v === undefined) return 'z';
  if (Array.isArray(v)) {
    let out = '[';
    for (const x of v) out += render(x, false);
    return `${out}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = sorted ? Object.keys(o).sort() : Object.keys(o);
  let out = '{';
  for (const k of keys) out += `s${k.length}:${k}${child(k, o[k])}`;
  return `${out}}`;
}

/** A content part: its own keys sorted, values as they are. */
const part = (v: unknown): string => (isRecord(v) ? render(v, true) : render(v, false));

/** A message: its own keys sorted, and its content parts'. */
function message(m: unknown): string {
  if (!isRecord(m)) return render(m, false);
  return render(m, true, (k, v) => (k === 'content' && Array.isArray(v) ? `[${v.map(part).join('')}]` : render(v, false)));
}

/** Fields that never change a non-streamed request's answer, or are keyed apart (model). */
const LEFT_OUT = (k: string, v: unknown): boolean => k === 'model' || k === 'stream_options' || (k === 'stream' && v !== true);

/** The canonical rendering of a request body (see the header). */
export function canonicalBody(body: Readonly<Record<string, unknown>>): string {
  let out = '{';
  for (const k of Object.keys(body).sort()) {
    const v = body[k];
    if (LEFT_OUT(k, v)) continue;
    out += `s${k.length}:${k}${k === 'messages' && Array.isArray(v) ? `[${v.map(message).join('')}]` : render(v, false)}`;
  }
  return `${out}}`;
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
