// Replay request to a vLLM publisher's ROUTER socket (KVEventsConfig.replay_endpoint).
// Request:  ["", start_seq (8 bytes, big-endian)] from a DEALER (the ROUTER sees
//           [identity, "", start_seq], the 3 frames vLLM expects).
// Replies:  one message ["", topic, seq (8 bytes), payload] per buffered batch with
//           seq ≥ start_seq, then the end marker ["", topic, -1 as 8 bytes (ff…ff), ""].
//           Earlier vLLM releases sent no topic (["", seq, payload]); both are read.
// vLLM's own example client uses REQ, which accepts a single reply per request; a DEALER reads
// the whole stream. The publisher keeps the last buffer_steps batches (default 10 000).
import { Dealer } from 'zeromq';
import { decodeSeq, encodeSeq } from './wire.js';
import type { Frame } from './replica-stream.js';

export interface ReplayResult {
  readonly frames: Frame[];
  /** The end marker arrived (the publisher sent everything it still had). */
  readonly complete: boolean;
  readonly error: string | null;
}

export async function requestReplay(address: string, fromSeq: number, o: { timeoutMs: number; maxFrames: number; untilSeq?: number }): Promise<ReplayResult> {
  const sock = new Dealer({ linger: 0, receiveTimeout: o.timeoutMs, sendTimeout: o.timeoutMs, immediate: false });
  const frames: Frame[] = [];
  try {
    sock.connect(address);
    await sock.send([Buffer.alloc(0), encodeSeq(fromSeq)]);
    const deadline = Date.now() + o.timeoutMs;
    while (frames.length < o.maxFrames && Date.now() < deadline) {
      const msg = await sock.receive();
      const body = msg[0]?.length === 0 ? msg.slice(1) : msg;
      const seqFrame = body.length >= 3 ? body[body.length - 2] : body[0];
      const payload = body[body.length - 1];
      const seq = seqFrame === undefined ? null : decodeSeq(seqFrame);
      if (seq === -1) return { frames, complete: true, error: null };
      if (seq === null || payload === undefined || body.length < 2) continue;
      frames.push({ seq, payload });
      if (o.untilSeq !== undefined && seq >= o.untilSeq) return { frames, complete: true, error: null };
    }
    return { frames, complete: false, error: 'replay stopped before its end marker' };
  } catch (e) {
    return { frames, complete: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    sock.close();
  }
}
