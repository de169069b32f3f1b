// random: a uniform endpoint of the list (injected RNG).
import type { Picker } from './pick.js';

export const randomPicker: Picker = ({ list, o }) => ({ primary: list[Math.floor(o.rng.next() * list.length) % list.length] as number, head: 'random' });
