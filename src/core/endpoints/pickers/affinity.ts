// affinity (default): session pin if usable, unless the pinned endpoint is over the CHWBL
// cap and another endpoint has a lower estimated TTFT (then re-pinned: `yield-overloaded`);
// else the warm endpoint (prefix match ≥ 1 block) with the least estimated TTFT, unless the
// CHWBL pick is faster — a swamped warm replica loses to an idle cold one (`prefix-spill`);
// first-seen prompts and sessions go to the CHWBL pick (`chwbl`).
// Work-conserving: whatever the prefix structure (every prompt sharing a first block makes
// every replica that served once look warm, and the CHWBL walk from that one key never
// reaches some replicas), a pick with work already on it loses to an idle endpoint (no load,
// fresh or no metrics) with a lower estimated TTFT (`idle-spill`), so no usable replica stays
// idle while requests queue elsewhere.
import { listHas, minByTtft, type ModelAssessment } from '../assess.js';
import { chwblPick } from './chwbl-pick.js';
import type { Pick, Picker } from './pick.js';
import type { SessionInfo } from '../../types.js';

export const affinityPicker: Picker = ({ as, list, cap, o }) => {
  const { load, ttftMs, matched } = as;
  let sessionOutcome: SessionInfo['outcome'] | undefined;
  const reasons: string[] = [];
  if (o.hasSession) {
    sessionOutcome = 'new';
    const p = as.pin;
    if (p !== -1) {
      if (!listHas(list, p)) sessionOutcome = 'yield-unhealthy';
      else if ((load[p] as number) + 1 > cap && minByTtft(as, list, (k) => k !== p && (ttftMs[k] as number) < (ttftMs[p] as number)) !== -1) {
        sessionOutcome = 'yield-overloaded';
      } else return { primary: p, head: 'session-pin', sessionOutcome: 'pinned' };
      reasons.push(`session-${sessionOutcome}`);
    }
  }
  const warm = minByTtft(as, list, (k) => (matched[k] as number) > 0);
  const ch = chwblPick(as, list, cap);
  const pick: Pick =
    warm !== -1 && (warm === ch || (ttftMs[warm] as number) <= (ttftMs[ch] as number))
      ? { primary: warm, head: 'prefix-hit', sessionOutcome, reasons }
      : { primary: ch, head: warm !== -1 ? 'prefix-spill' : 'chwbl', sessionOutcome, reasons };
  return workConserving(as, list, pick);
};

/** An idle endpoint (no load, metrics not stale) faster than a busy pick takes the request instead. */
export function workConserving(as: ModelAssessment, list: Int32Array, pick: Pick): Pick {
  const p = pick.primary;
  if ((as.load[p] as number) === 0) return pick;
  const idle = minByTtft(as, list, (k) => (as.load[k] as number) === 0 && as.stale[k] === 0);
  if (idle === -1 || (as.ttftMs[idle] as number) >= (as.ttftMs[p] as number)) return pick;
  return { ...pick, primary: idle, head: 'idle-spill' };
}
