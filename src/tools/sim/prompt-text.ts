// Prompt text of OpenAI requests, as the simulator's "tokenizer" sees it.
// Chat: canonical render "<|role|>\n<text>\n" per message (text parts of array content joined),
// so an earlier turn is a prefix of the later conversation. Completions: the prompt string, or the
// array joined; token-id arrays render each id as charsPerToken characters.
// Tokens = ceil(chars / charsPerToken).

export type PromptResult = { ok: true; text: string } | { ok: false; param: string; message: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text of a message `content`: string, null, or an array of parts whose `text` fields are joined. */
function contentText(content: unknown): string | undefined {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  let out = '';
  for (const part of content) {
    if (typeof part === 'string') out += part;
    else if (isRecord(part)) {
      if (typeof part.text === 'string') out += part.text;
    } else return undefined;
  }
  return out;
}

export function renderChatPrompt(messages: unknown): PromptResult {
  if (!Array.isArray(messages) || messages.length === 0) {
    return { ok: false, param: 'messages', message: 'messages must be a non-empty array' };
  }
  let text = '';
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isRecord(m) || typeof m.role !== 'string') {
      return { ok: false, param: `messages[${i}].role`, message: `messages[${i}] must be an object with a string role` };
    }
    const body = contentText(m.content);
    if (body === undefined) {
      return { ok: false, param: `messages[${i}].content`, message: `messages[${i}].content must be a string or an array of parts` };
    }
    text += `<|${m.role}|>\n${body}\n`;
  }
  return { ok: true, text: `${text}<|assistant|>\n` };
}

function tokenIdText(id: number, charsPerToken: number): string {
  return id.toString(36).padStart(charsPerToken, '0').slice(-charsPerToken);
}

export function renderCompletionPrompt(prompt: unknown, charsPerToken: number): PromptResult {
  if (typeof prompt === 'string') return { ok: true, text: prompt };
  if (Array.isArray(prompt) && prompt.length > 0) {
    let text = '';
    for (const item of prompt) {
      if (typeof item === 'string') text += item;
      else if (typeof item === 'number' && Number.isInteger(item) && item >= 0) text += tokenIdText(item, charsPerToken);
      else return { ok: false, param: 'prompt', message: 'prompt must be a string, an array of strings or an array of token ids' };
    }
    return { ok: true, text };
  }
  return { ok: false, param: 'prompt', message: 'prompt must be a string, an array of strings or an array of token ids' };
}

export function countTokens(text: string, charsPerToken: number): number {
  return Math.ceil(text.length / charsPerToken);
}
