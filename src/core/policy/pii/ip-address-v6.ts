// ip_address (IPv6) — full and compressed forms.
// Matches: eight groups of 1–4 hex digits joined by ':' (2001:0db8:85a3:0000:0000:8a2e:0370:7334),
// or a compressed form with one '::' and at least two written groups (2001:db8::8a2e:370:7334,
// fe80::1ff:fe23:4567:890a), optionally ending in a dotted IPv4 (::ffff:192.0.2.1 counts the
// quad as two groups), standing clear of word characters (a zone %eth0, brackets and a /64
// prefix are fine).
// Validates: group sizes, group count (8, or ≤7 around '::'), at most one '::', and at least
// one decimal digit — so code such as `std::vector`, `a::b`, `dead::beef`, slices `[::2]`,
// times 12:30:45 and MAC addresses 00:1a:2b:3c:4d:5e are not addresses.
// Deliberately not reported: the loopback ::1 and unspecified :: (also written in full).
// Cost: colons are found with indexOf (a memchr, far cheaper than a regex pass); a colon is an
// anchor when '::' or ':hex:' starts there. Each anchor is expanded to its run of hex digits,
// ':' and '.', parsed once, and the scan resumes after the run.
import type { Collector } from './types.js';
import { at, isDigit, isHex, isWord } from './chars.js';

function ipv4Tail(text: string, from: number, to: number): boolean {
  let parts = 0;
  let i = from;
  while (i < to && parts < 4) {
    let v = 0;
    let n = 0;
    const s = i;
    while (i < to && isDigit(text.charCodeAt(i)) && n < 4) {
      v = v * 10 + text.charCodeAt(i) - 48;
      i++;
      n++;
    }
    if (n < 1 || n > 3 || v > 255 || (n > 1 && text.charCodeAt(s) === 48)) return false;
    parts++;
    if (i < to) {
      if (text.charCodeAt(i) !== 46 || parts === 4) return false;
      i++;
    }
  }
  return parts === 4 && i === to;
}

/** Whether text[from, to) is an IPv6 address kvfleet reports (see the header for the rules). */
export function isReportedIpv6(text: string, from: number, to: number): boolean {
  let i = from;
  let groups = 0;
  let compressed = false;
  let decimal = false;
  let zeroHead = true; // every group before the last is zero
  let last = -1;
  if (at(text, i) === 58) {
    if (at(text, i + 1) !== 58) return false;
    compressed = true;
    i += 2;
  }
  while (i < to) {
    let j = i;
    let v = 0;
    while (j < to && isHex(text.charCodeAt(j)) && j - i < 5) {
      const c = text.charCodeAt(j);
      if (isDigit(c)) decimal = true;
      v = v * 16 + (isDigit(c) ? c - 48 : (c | 32) - 87);
      j++;
    }
    if (j < to && text.charCodeAt(j) === 46) {
      if (!ipv4Tail(text, i, to)) return false;
      groups += 2;
      decimal = true;
      if (last > 0) zeroHead = false;
      last = 2; // an embedded IPv4 is never the loopback or unspecified address
      break;
    }
    if (j - i < 1 || j - i > 4) return false;
    if (last > 0) zeroHead = false;
    last = v;
    groups++;
    i = j;
    if (i === to) break;
    if (at(text, i + 1) === 58) {
      if (compressed) return false;
      compressed = true;
      i += 2;
    } else {
      i += 1;
      if (i === to) return false;
    }
  }
  if (compressed ? groups > 7 || groups < 2 : groups !== 8) return false;
  if (!decimal) return false;
  return !(zeroHead && (last === 0 || last === 1));
}

/** '::' or ':' + 1–4 hex digits + ':' at the colon at i. */
function isAnchor(text: string, i: number): boolean {
  if (at(text, i + 1) === 58) return true;
  let j = i + 1;
  while (j - i <= 4 && isHex(at(text, j))) j++;
  return j > i + 1 && at(text, j) === 58;
}

export function findIpv6(text: string, out: Collector): void {
  let colon = text.indexOf(':');
  while (colon !== -1) {
    if (!isAnchor(text, colon)) {
      colon = text.indexOf(':', colon + 1);
      continue;
    }
    let s = colon;
    while (s > 0 && (isHex(text.charCodeAt(s - 1)) || text.charCodeAt(s - 1) === 58)) s--;
    let e = colon;
    while (e < text.length && (isHex(text.charCodeAt(e)) || text.charCodeAt(e) === 58 || text.charCodeAt(e) === 46)) e++;
    colon = text.indexOf(':', e);
    while (e > s && text.charCodeAt(e - 1) === 46) e--; // a sentence's full stop
    if (e - s >= 2 && text.charCodeAt(e - 1) === 58 && text.charCodeAt(e - 2) !== 58) e--;
    if (isWord(at(text, s - 1)) || isWord(at(text, e))) continue;
    if (isReportedIpv6(text, s, e)) out.add('ip_address', s, e);
  }
}
