// prefix_only: the longest prefix match (ties: ring rank), else the CHWBL pick.
// Ignores load except through the CHWBL bound on first-seen prompts.
import { chwblPick } from './chwbl-pick.js';
import type { Picker } from './pick.js';

export const prefixOnlyPicker: Picker = ({ as, list, cap }) => {
  const { matched, ringRank } = as;
  let longest = -1;
  for (let j = 0; j < list.length; j++) {
    const k = list[j] as number;
    const m = matched[k] as number;
    if (longest === -1 || m > (matched[longest] as number) || (m === matched[longest] && (ringRank[k] as number) < (ringRank[longest] as number))) longest = k;
  }
  if (longest !== -1 && (matched[longest] as number) > 0) return { primary: longest, head: 'prefix-hit' };
  return { primary: chwblPick(as, list, cap), head: 'chwbl' };
};
