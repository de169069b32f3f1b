// prefix_only: the longest prefix match (ties: ring rank) among the endpoints under the CHWBL
// cap, else the CHWBL pick — bounded by load like the default (a shared first block would
// otherwise send every request to one replica), and work-conserving like it: a busy pick
// loses to an idle endpoint with a lower estimated TTFT (affinity.ts).
import { chwblPick } from './chwbl-pick.js';
import { workConserving } from './affinity.js';
import type { Picker } from './pick.js';

export const prefixOnlyPicker: Picker = ({ as, list, cap }) => {
  const { matched, ringRank, load } = as;
  let longest = -1;
  for (let j = 0; j < list.length; j++) {
    const k = list[j] as number;
    if ((load[k] as number) + 1 > cap) continue;
    const m = matched[k] as number;
    if (longest === -1 || m > (matched[longest] as number) || (m === matched[longest] && (ringRank[k] as number) < (ringRank[longest] as number))) longest = k;
  }
  const pick =
    longest !== -1 && (matched[longest] as number) > 0 ? { primary: longest, head: 'prefix-hit' } : { primary: chwblPick(as, list, cap), head: 'chwbl' };
  return workConserving(as, list, pick);
};
