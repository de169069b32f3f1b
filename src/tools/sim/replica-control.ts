// The runtime control surface of a replica, shared by its own /sim/* routes and the admin server:
// change faults, reset cache and counters, read stats. Each handler answers with JSON.
import type { ServerResponse } from 'node:http';
import { faultsJson, parseFaultPatch, type FaultPatch } from './fault-patch.js';
import { sendJson } from './http-io.js';
import { openAiError } from './openai-error.js';
import type { FaultSettings } from './options.js';
import type { ReplicaStats } from './replica-state.js';

export interface ReplicaControl {
  readonly index: number;
  faults(): FaultSettings;
  setFaults(patch: FaultPatch): Promise<FaultSettings>;
  reset(): void;
  stats(): ReplicaStats;
}

/**
 * Apply a fault patch from a JSON body. With `deferRefuse` (the replica's own port) the answer is
 * sent first and `refuse` is applied once it has been written, since closing the port is the point.
 */
export async function handleFaultsRequest(control: ReplicaControl, body: unknown, res: ServerResponse, deferRefuse: boolean): Promise<void> {
  const parsed = parseFaultPatch(body);
  if (!parsed.ok) return sendJson(res, 400, openAiError(400, parsed.message, 'faults'));
  const { refuse, ...rest } = parsed.patch;
  try {
    if (deferRefuse && refuse !== undefined) {
      const now = await control.setFaults(rest);
      if (refuse) res.shouldKeepAlive = false;
      sendJson(res, 200, { replica: control.index, faults: faultsJson({ ...now, refuse }) });
      res.once('finish', () => {
        control.setFaults({ refuse }).catch(() => undefined);
      });
      return;
    }
    const now = await control.setFaults(parsed.patch);
    sendJson(res, 200, { replica: control.index, faults: faultsJson(now) });
  } catch (err) {
    const message = err instanceof Error ? err.message : 'could not apply faults';
    sendJson(res, 500, openAiError(500, `replica ${control.index}: ${message}`));
  }
}

export function handleResetRequest(control: ReplicaControl, res: ServerResponse): void {
  control.reset();
  sendJson(res, 200, { replica: control.index, reset: true });
}
