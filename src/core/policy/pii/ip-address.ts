// ip_address (IPv4) — dotted quads.
// Matches: four groups of 1–3 digits joined by single dots, each octet 0–255 written without a
// leading zero (10.0.0.7, 192.168.1.20, 8.8.8.8), standing clear: not after a word character,
// '.' or '-' (v1.2.3.4, x-1.2.3.4) and not followed by '.'/'-' and a digit (1.2.3.4.5, a
// longer version string). A port or prefix length after it is fine (10.0.0.7:8000, 10.0.0.0/8).
// Deliberately not reported: addresses that identify no one — 0.0.0.0 (unspecified), 127.0.0.0/8
// (loopback) and 255.255.255.255 (broadcast) — which configs and code samples are full of.
// Private ranges (10/8, 172.16/12, 192.168/16) are reported: they map an internal network.
// Four-part version numbers whose parts are ≤255 (Windows 10.0.19045.1 is not, 1.2.3.4 is)
// cannot be told from addresses; they are reported unless written as v1.2.3.4.
// IPv6 is in ip-address-v6.ts.
import type { Collector } from './types.js';
import { closesAt, opensAt, SEP_DOT, type DigitGroups } from './digit-groups.js';

function octet(text: string, g: DigitGroups, k: number): number {
  const d = g.digits(k);
  if (d < 1 || d > 3) return -1;
  if (d > 1 && text.charCodeAt(g.start[k] ?? 0) === 48) return -1;
  const v = g.value(text, k);
  return v <= 255 ? v : -1;
}

export function isReportedIpv4(a: number, b: number, c: number, d: number): boolean {
  if (a === 127) return false;
  if (a === 0 && b === 0 && c === 0 && d === 0) return false;
  return !(a === 255 && b === 255 && c === 255 && d === 255);
}

export function findIpv4(text: string, g: DigitGroups, out: Collector): void {
  for (let i = 0; i + 3 < g.count; i++) {
    if (g.sep[i] !== SEP_DOT || g.sep[i + 1] !== SEP_DOT || g.sep[i + 2] !== SEP_DOT) continue;
    if (!opensAt(text, g, i) || !closesAt(text, g, i + 3)) continue;
    const a = octet(text, g, i);
    const b = octet(text, g, i + 1);
    const c = octet(text, g, i + 2);
    const d = octet(text, g, i + 3);
    if (a < 0 || b < 0 || c < 0 || d < 0 || !isReportedIpv4(a, b, c, d)) continue;
    out.add('ip_address', g.start[i] ?? 0, g.end[i + 3] ?? 0);
    i += 3;
  }
}
