// round_robin: rotation over the list (a counter per model, advanced at commit).
import type { Picker } from './pick.js';

export const roundRobinPicker: Picker = ({ list, o }) => ({ primary: list[o.rrStart % list.length] as number, head: 'round-robin' });
