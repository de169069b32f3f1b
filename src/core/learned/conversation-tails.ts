// Session inference without ids (affinity.infer_sessions): a request whose prompt extends a
// recent request's WHOLE prompt is that conversation's next turn. Each routed prompt leaves
// the chain key of its last full block, plus a hash of the text after it (the partial last
// block) → its conversation's session key. A new prompt whose chain holds one of those keys
// (past its first block, which shared preambles make common) and whose text continues with
// the same partial block continues that conversation: two questions after one long shared
// system prompt share the system prompt's blocks, not each other's text, and stay apart. A
// prompt longer than max_blocks is matched on its blocks alone. Bounded LRU (session_capacity).
import { hashKey } from '../hash.js';
import type { Fingerprint } from '../fingerprint.js';

/** Where a prompt ends: its last full block's chain key, and a hash of the text after it. */
export interface PromptTail {
  readonly key: number;
  /** hashKey of the text after the last full block, and its length (0: nothing, or not known). */
  readonly sig: number;
  readonly len: number;
}

interface Tail extends PromptTail {
  readonly session: string;
}

/** The tail of a prompt (undefined: shorter than one block). */
export function promptTail(fp: Fingerprint): PromptTail | undefined {
  if (fp.blocks === 0) return undefined;
  // Without the render's closing newline: a next turn may go on in the same message.
  const full = fp.complete ? fp.render.slice(fp.blocks * fp.blockChars) : '';
  const rest = full.endsWith('\n') ? full.slice(0, -1) : full;
  return { key: fp.chain[fp.blocks - 1] as number, sig: rest.length > 0 ? hashKey(rest) : 0, len: rest.length };
}

/** Prompts ending in the same block (questions after one shared system prompt) kept per key. */
const PER_KEY = 8;

export class ConversationTails {
  private readonly tails = new Map<number, Tail[]>();

  constructor(private readonly capacity: number) {}

  /** The session key of the latest conversation this prompt extends, if any. */
  find(fp: Fingerprint): string | undefined {
    for (let i = fp.blocks - 1; i >= 1; i--) {
      const list = this.tails.get(fp.chain[i] as number);
      if (list === undefined) continue;
      const start = (i + 1) * fp.blockChars;
      for (const t of list) {
        if (t.len === 0 || (fp.render.length >= start + t.len && hashKey(fp.render.slice(start, start + t.len)) === t.sig)) return t.session;
      }
    }
    return undefined;
  }

  /** Remember that the conversation `session` now ends with the prompt of this tail. */
  record(t: PromptTail, session: string): void {
    const list = (this.tails.get(t.key) ?? []).filter((x) => x.sig !== t.sig || x.len !== t.len);
    list.unshift({ ...t, session });
    if (list.length > PER_KEY) list.length = PER_KEY;
    this.tails.delete(t.key);
    this.tails.set(t.key, list);
    if (this.tails.size > this.capacity) {
      const oldest = this.tails.keys().next().value;
      if (oldest !== undefined) this.tails.delete(oldest);
    }
  }

  get size(): number {
    return this.tails.size;
  }
}
