// least_loaded: the least loaded endpoint (load = max(in-flight, engine running + waiting));
// endpoints with stale metrics (unknown load) come after every fresh one. One linear scan in
// rotated order (round-robin start), so the first of equal loads wins and they take turns.
import type { Picker } from './pick.js';

export const leastLoadedPicker: Picker = ({ as, list, o }) => {
  const { load, stale } = as;
  const n = list.length;
  let primary = -1;
  for (let j = 0; j < n; j++) {
    const k = list[(o.rrStart + j) % n] as number;
    if (primary === -1) primary = k;
    else {
      const ds = (stale[k] as number) - (stale[primary] as number);
      if (ds < 0 || (ds === 0 && (load[k] as number) < (load[primary] as number))) primary = k;
    }
  }
  return { primary, head: primary !== -1 && load[primary] === 0 ? 'idle' : 'least-loaded' };
};
