// OpenAI JSON body → RequestInput. The body is parsed exactly once; checks are
// hand-written (not a schema library) so each error names the precise field,
// e.g. `messages[3].content`, and the hot path stays allocation-light.
// Error messages name fields and types only: never a value from the prompt.
import { kvError, type KvError } from '../errors.js';
import type { ApiKind, PromptSegment, RequestInput } from './types.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function wrongType(param: string, expected: string, got: unknown): KvError {
  return kvError('invalid_field', { param, must: `be ${expected}, got ${typeName(got)}` });
}

/** Image parts are represented by a short marker so huge data: URLs cost nothing. */
const IMAGE_MARK_CHARS = 128;

function contentText(content: unknown, param: string, acc: { hasImages: boolean }): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw wrongType(param, 'a string or an array of content parts', content);
  let out = '';
  for (let i = 0; i < content.length; i++) {
    const part: unknown = content[i];
    const p = `${param}[${i}]`;
    if (!isObject(part)) throw wrongType(p, 'an object', part);
    const type = part['type'];
    if (typeof type !== 'string') throw wrongType(`${p}.type`, 'a string', type);
    if (type === 'text') {
      const t = part['text'];
      if (typeof t !== 'string') throw wrongType(`${p}.text`, 'a string', t);
      out += t;
    } else if (type === 'image_url' || type === 'input_image') {
      acc.hasImages = true;
      const iu = part['image_url'];
      const url = isObject(iu) ? iu['url'] : iu;
      out += `\u0000image:${typeof url === 'string' ? url.slice(0, IMAGE_MARK_CHARS) : ''}\u0000`;
    } else {
      out += `\u0000${type}\u0000`;
    }
  }
  return out;
}

function chatSegments(body: Json, acc: { hasImages: boolean }): PromptSegment[] {
  const messages = body['messages'];
  if (messages === undefined) throw kvError('missing_field', { param: 'messages' });
  if (!Array.isArray(messages)) throw wrongType('messages', 'an array', messages);
  if (messages.length === 0) throw kvError('invalid_field', { param: 'messages', must: 'not be empty' });
  const out = new Array<PromptSegment>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    const p = `messages[${i}]`;
    if (!isObject(m)) throw wrongType(p, 'an object', m);
    const role = m['role'];
    if (typeof role !== 'string') {
      if (role === undefined) throw kvError('missing_field', { param: `${p}.role` });
      throw wrongType(`${p}.role`, 'a string', role);
    }
    out[i] = { role, text: contentText(m['content'], `${p}.content`, acc) + toolCallsText(m['tool_calls'], `${p}.tool_calls`) };
  }
  return out;
}

/**
 * An assistant message's tool calls, rendered after its content: the engine's chat template
 * puts them in the prompt too (so they are part of the prefix), and their arguments can hold
 * data the policy must see.
 */
function toolCallsText(calls: unknown, param: string): string {
  if (calls === undefined || calls === null) return '';
  if (!Array.isArray(calls)) throw wrongType(param, 'an array', calls);
  let out = '';
  for (let j = 0; j < calls.length; j++) {
    const c: unknown = calls[j];
    const f = isObject(c) ? c['function'] : undefined;
    if (!isObject(f)) throw wrongType(`${param}[${j}].function`, 'an object', f);
    const name = f['name'];
    const args = f['arguments'];
    out += `\u0000tool:${typeof name === 'string' ? name : ''}(${typeof args === 'string' ? args : ''})\u0000`;
  }
  return out;
}

function textOrTokens(v: unknown, param: string, role: string): PromptSegment[] {
  if (typeof v === 'string') return [{ role, text: v }];
  if (Array.isArray(v)) {
    if (v.length === 0) throw kvError('invalid_field', { param, must: 'not be empty' });
    if (v.every((x) => typeof x === 'number')) return [{ role, text: v.join(' ') }];
    return v.map((x, i) => {
      if (typeof x === 'string') return { role, text: x };
      if (Array.isArray(x) && x.every((t) => typeof t === 'number')) return { role, text: x.join(' ') };
      throw wrongType(`${param}[${i}]`, 'a string or an array of token ids', x);
    });
  }
  if (v === undefined) throw kvError('missing_field', { param });
  throw wrongType(param, 'a string or an array', v);
}

function optionalPositiveInt(body: Json, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw wrongType(key, 'a positive integer', v);
  return v;
}

export function parseRequestBody(api: ApiKind, raw: Uint8Array): RequestInput {
  return inputOf(api, parseJsonObject(raw), false);
}

/** A request body → its JSON object: 400 invalid_json when it is not JSON, not an object, or nested too deep. */
export function parseJsonObject(raw: Uint8Array): Json {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch {
    throw kvError('invalid_json', {});
  }
  if (!isObject(body)) throw kvError('invalid_json', { got: typeName(body) });
  if (nestedDeeperThan(body, MAX_JSON_DEPTH)) throw kvError('invalid_json', { depthLimit: MAX_JSON_DEPTH });
  return body;
}

/**
 * Objects and arrays nested deeper than this are refused (400) before anything is decided:
 * an OpenAI request nests a handful of levels (a JSON-schema response_format or tool
 * parameters a few dozen), and re-serialising a body (model rewrite, redaction) must never
 * meet arbitrary depth.
 */
export const MAX_JSON_DEPTH = 128;

/** Whether containers nest deeper than `limit` (iterative: no recursion on client input). */
export function nestedDeeperThan(root: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [v, depth] = item;
    if (depth > limit) return true;
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    for (const c of children) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
  }
  return false;
}

/** The typed input of an already parsed body (`changed`: the body differs from what the client sent). */
export function inputOf(api: ApiKind, body: Readonly<Record<string, unknown>>, changed: boolean): RequestInput {
  const model = body['model'];
  if (model === undefined) throw kvError('missing_field', { param: 'model' });
  if (typeof model !== 'string' || model.length === 0) throw wrongType('model', 'a non-empty string', model);

  const stream = body['stream'];
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') throw wrongType('stream', 'a boolean', stream);

  const user = body['user'];
  if (user !== undefined && user !== null && typeof user !== 'string') throw wrongType('user', 'a string', user);

  const acc = { hasImages: false };
  let segments: PromptSegment[];
  let hasTools = false;
  let jsonMode = false;
  if (api === 'chat') {
    segments = chatSegments(body, acc);
    const tools = body['tools'];
    if (tools !== undefined && tools !== null && !Array.isArray(tools)) throw wrongType('tools', 'an array', tools);
    hasTools = (Array.isArray(tools) && tools.length > 0) || Array.isArray(body['functions']);
  } else if (api === 'completion') {
    segments = textOrTokens(body['prompt'], 'prompt', 'prompt');
  } else {
    segments = textOrTokens(body['input'], 'input', 'input');
  }
  if (api !== 'embedding') {
    const rf = body['response_format'];
    if (rf !== undefined && rf !== null) {
      if (!isObject(rf)) throw wrongType('response_format', 'an object', rf);
      jsonMode = rf['type'] === 'json_object' || rf['type'] === 'json_schema';
    }
  }
  const maxOutputTokens = optionalPositiveInt(body, 'max_completion_tokens') ?? optionalPositiveInt(body, 'max_tokens');

  let promptChars = 0;
  for (const s of segments) promptChars += s.text.length;

  return {
    api,
    model,
    stream: stream === true,
    segments,
    promptChars,
    hasTools,
    jsonMode,
    hasImages: acc.hasImages,
    maxOutputTokens,
    user: typeof user === 'string' && user.length > 0 ? user : undefined,
    body,
    bodyChanged: changed,
  };
}

/** Serialise the body with `modelId` as its model. Called only when the model name or the body changed. */
export function serializeBody(input: RequestInput, modelId: string): Buffer {
  return Buffer.from(JSON.stringify({ ...input.body, model: modelId }), 'utf8');
}
