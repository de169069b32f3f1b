// Reading a streamed (SSE) completion in two steps: the first chunk (headers and first
// tokens are here, generation goes on), then the rest up to the end of the body.
export async function openStream(res: Response): Promise<{ first: string; rest(): Promise<string> }> {
  const reader = res.body?.getReader();
  if (reader === undefined) throw new Error('response has no body');
  const dec = new TextDecoder();
  const first = dec.decode((await reader.read()).value);
  return {
    first,
    async rest() {
      let text = first;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += dec.decode(value);
      }
    },
  };
}
