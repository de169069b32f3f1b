// Redaction (policy.pii action `redact`): the body that goes upstream has the values of the
// given detectors replaced by typed placeholders (`[REDACTED_EMAIL]`) in every prompt string
// — chat message content (strings and text parts), tool-call arguments, completion `prompt`,
// embedding `input` — and the typed input is rebuilt from it, so the fingerprint and the
// policy see exactly what the replica will. The client's body object is never mutated.
import type { PiiDetector } from '../../config/names.js';
import { redactPii, scanPii } from './pii/index.js';
import { inputOf } from '../../request/parse-body.js';
import type { RequestInput } from '../../request/types.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isList = (v: unknown): v is readonly unknown[] => Array.isArray(v);

function redactString(s: string, detectors: ReadonlySet<PiiDetector>): string {
  const f = scanPii(s, detectors);
  return f.length === 0 ? s : redactPii(s, f);
}

/** Strings and string arrays (completion prompt, embedding input, text parts). */
function redactValue(v: unknown, d: ReadonlySet<PiiDetector>): unknown {
  if (typeof v === 'string') return redactString(v, d);
  if (isList(v)) return v.map((x) => (typeof x === 'string' ? redactString(x, d) : x));
  return v;
}

function redactContent(content: unknown, d: ReadonlySet<PiiDetector>): unknown {
  if (!isList(content)) return redactValue(content, d);
  return content.map((part): unknown =>
    isObject(part) && part['type'] === 'text' && typeof part['text'] === 'string' ? { ...part, text: redactString(part['text'], d) } : part,
  );
}

function redactToolCalls(calls: unknown, d: ReadonlySet<PiiDetector>): unknown {
  if (!isList(calls)) return calls;
  return calls.map((c): unknown => {
    if (!isObject(c) || !isObject(c['function']) || typeof c['function']['arguments'] !== 'string') return c;
    return { ...c, function: { ...c['function'], arguments: redactString(c['function']['arguments'], d) } };
  });
}

export function redactInput(input: RequestInput, detectors: ReadonlySet<PiiDetector>): RequestInput {
  const b = input.body;
  let body: Json;
  if (input.api === 'chat') {
    const messages = (b['messages'] as unknown[]).map((m) => {
      if (!isObject(m)) return m;
      const out: Json = { ...m, content: redactContent(m['content'], detectors) };
      if (m['tool_calls'] !== undefined) out['tool_calls'] = redactToolCalls(m['tool_calls'], detectors);
      return out;
    });
    body = { ...b, messages };
  } else if (input.api === 'completion') body = { ...b, prompt: redactValue(b['prompt'], detectors) };
  else body = { ...b, input: redactValue(b['input'], detectors) };
  return inputOf(input.api, body, true);
}
