// The typed view of an OpenAI request body that the core decides on.

import type { ApiKind } from '../config/names.js';

export type { ApiKind };

export const API_PATHS: Readonly<Record<string, ApiKind>> = Object.freeze({
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completion',
  '/v1/embeddings': 'embedding',
});

/** One prompt segment: a chat message, a completion prompt, or an embedding input. */
export interface PromptSegment {
  readonly role: string;
  readonly text: string;
}

export interface RequestInput {
  readonly api: ApiKind;
  /** The model as the client named it (a name, an alias, or `auto`). */
  readonly model: string;
  readonly stream: boolean;
  /** Prompt in order, roles included. Text is used for fingerprinting, never logged. */
  readonly segments: readonly PromptSegment[];
  /** Total characters of prompt text (a cheap token estimate: chars / 4). */
  readonly promptChars: number;
  readonly hasTools: boolean;
  readonly jsonMode: boolean;
  readonly hasImages: boolean;
  readonly maxOutputTokens: number | undefined;
  /** The body's `user` field, when given (optional session key). */
  readonly user: string | undefined;
  /** The parsed body, kept to re-serialise only when the model name is rewritten or the body changed. */
  readonly body: Readonly<Record<string, unknown>>;
  /** The body was changed by kvfleet (redaction): it must be sent re-serialised even if the model is not rewritten. */
  readonly bodyChanged: boolean;
}
