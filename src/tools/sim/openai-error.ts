// OpenAI/vLLM-shaped error bodies: {"error":{"message","type","code","param"}}.
// Messages name the offending field and never echo prompt text.

export interface OpenAiErrorBody {
  error: { message: string; type: string; code: number; param: string | null };
}

const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'BadRequestError',
  404: 'NotFoundError',
  405: 'MethodNotAllowedError',
  413: 'RequestEntityTooLargeError',
  429: 'RateLimitError',
  500: 'InternalServerError',
  503: 'ServiceUnavailableError',
};

export function openAiError(status: number, message: string, param: string | null = null): OpenAiErrorBody {
  return { error: { message, type: ERROR_TYPES[status] ?? 'APIError', code: status, param } };
}

/** The vLLM answer to a request for a model the server does not serve. */
export function modelNotFound(model: string): OpenAiErrorBody {
  return openAiError(404, `The model \`${model}\` does not exist.`, 'model');
}
