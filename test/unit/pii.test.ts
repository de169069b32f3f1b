import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLEAN_FRAGMENTS, PII_ITEMS, benchText } from '../../src/tools/bench/pii-corpus.js';
import { detectPii, PII_DETECTORS, redactPii, scanPii, type PiiDetector } from '../../src/core/policy/pii/index.js';

/** [detector, matched text] for every finding. */
const hits = (text: string, enabled?: ReadonlySet<PiiDetector>): [PiiDetector, string][] =>
  scanPii(text, enabled).map((f) => [f.detector, text.slice(f.start, f.end)]);
const only = (d: PiiDetector) => new Set<PiiDetector>([d]);
const kinds = (text: string): PiiDetector[] => [...detectPii(text)].sort();

describe('e-mail', () => {
  it('finds addresses in prose, brackets and mailto links', () => {
    expect(hits('Write to jane.doe@example.com, (ops+alerts@mail.example.co.uk) or mailto:a_b-c@sub.example.io.')).toEqual([
      ['email', 'jane.doe@example.com'],
      ['email', 'ops+alerts@mail.example.co.uk'],
      ['email', 'a_b-c@sub.example.io'],
    ]);
    expect(hits('Contact josé.smith@example.org today')).toEqual([['email', 'josé.smith@example.org']]);
  });

  it('does not fire on decorators, handles, matrix products, asset names, packages, git remotes or host-only addresses', () => {
    const text =
      "@Component({ selector: 'x' }) @Input() size; ping @jane; y = x@w.T + a@b.transpose; icon@2x.png; " +
      'npm i left-pad@1.3.0 @scope/pkg@2.0.0; git clone git@github.com:org/repo.git; root@localhost and a@b';
    expect(hits(text, only('email'))).toEqual([]);
  });
});

describe('phone numbers', () => {
  it('finds international, parenthesised and national formats', () => {
    const numbers = [
      '+1 (555) 123-4567',
      '+44 20 7946 0958',
      '+44 (0)20 7946 0958',
      '+33 6 12 34 56 78',
      '+49-30-1234567',
      '+14155550132',
      '(555) 123-4567',
      '555-123-4567',
      '555.123.4567',
      '1-800-555-0199',
      '020 7946 0958',
      '06 12 34 56 78',
      '0044 20 7946 0958',
    ];
    for (const n of numbers) expect(hits(`Call ${n} today.`), n).toEqual([['phone', n]]);
  });

  it('does not fire on years, prices, dates, times, versions, IDs or time zones', () => {
    const text =
      'In 1999 and 2024 it cost $1,299.00 (or 1 234 567 units) on 2024-05-01, 01.02.2024 and 05/06/2024 at 12:30:45, ' +
      'v2.14.3, 10.0.19045.2965, order 5551234567 and 1234567890123, ts 1714567890123, UTC+05:30, ISBN 978-3-16-148410-0, ' +
      'build 20240501.7, ratio 16:9, 3.14159265, id 123456789012.';
    expect(hits(text)).toEqual([]);
  });
});

describe('payment cards', () => {
  it('finds Luhn-valid numbers in the usual groupings', () => {
    const cards = [
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '4111\u00a01111\u00a01111\u00a01111',
      '4111111111111111',
      '5500 0000 0000 0004',
      '3782 822463 10005',
      '3056 930902 5904',
      '6011 0009 9013 9424',
      '2223 0031 2200 3222',
      '4222222222222',
    ];
    for (const c of cards) expect(hits(`pay with ${c}, thanks`), c).toEqual([['payment_card', c]]);
  });

  it('rejects Luhn failures, implausible issuers, mixed groupings and longer digit runs', () => {
    const text = '4111 1111 1111 1112, 1111 1111 1111 1117, 9111111111111111, 4111 11111111 1111, 41111111111111110000, 4111-1111 1111-1111';
    expect(hits(text, only('payment_card'))).toEqual([]);
  });

  it('takes the card and leaves the CVV next to it', () => {
    expect(hits('card 4111 1111 1111 1111 123')).toEqual([['payment_card', '4111 1111 1111 1111']]);
  });
});

describe('IBAN', () => {
  it('finds mod-97-valid IBANs in print and electronic form', () => {
    const ibans = [
      'DE89 3704 0044 0532 0130 00',
      'DE89370400440532013000',
      'GB82 WEST 1234 5698 7654 32',
      'GB82WEST12345698765432',
      'FR14 2004 1010 0505 0001 3M02 606',
      'NL91ABNA0417164300',
      'ES91 2100 0418 4502 0005 1332',
      'CH93 0076 2011 6238 5295 7',
      'BE68 5390 0754 7034',
    ];
    for (const i of ibans) expect(hits(`IBAN: ${i}.`), i).toEqual([['iban', i]]);
  });

  it('rejects a wrong check digit, a wrong length, an unknown country and glued text', () => {
    const text = 'DE88 3704 0044 0532 0130 00, DE89 3704 0044 0532 0130 0, XX89370400440532013000, ABCDE89370400440532013000';
    expect(hits(text)).toEqual([]);
  });

  it('an IBAN whose digits look like a phone number is one IBAN', () => {
    expect(hits('send to NL91 ABNA 0417 1643 00 please')).toEqual([['iban', 'NL91 ABNA 0417 1643 00']]);
    expect(hits('send to DE89 3704 0044 0532 0130 00 please')).toEqual([['iban', 'DE89 3704 0044 0532 0130 00']]);
  });
});

describe('US SSN', () => {
  it('finds dashed and spaced forms, and a bare run only next to a context word', () => {
    expect(hits('SSN 536-22-8451 or 536 22 8451')).toEqual([
      ['us_ssn', '536-22-8451'],
      ['us_ssn', '536 22 8451'],
    ]);
    expect(hits('Social Security number: 536228451')).toEqual([['us_ssn', '536228451']]);
    expect(hits('ticket 536228451 is closed')).toEqual([]);
  });

  it('excludes the ranges the SSA never issues and longer dashed numbers', () => {
    const text = 'SSN 000-12-3456, 666-12-3456, 900-12-3456, 536-00-8451, 536-22-0000, 536-22-8451-7, 1-536-22-8451';
    expect(hits(text)).toEqual([]);
  });
});

describe('IP addresses', () => {
  it('finds IPv4 and IPv6 (full, compressed, with ports, prefixes and embedded IPv4)', () => {
    const ips = [
      '10.0.0.7',
      '192.168.1.20',
      '8.8.8.8',
      '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
      '2001:db8::8a2e:370:7334',
      'fe80::1ff:fe23:4567:890a',
      '::ffff:192.0.2.1',
    ];
    for (const ip of ips) expect(hits(`host ${ip} is up`), ip).toEqual([['ip_address', ip]]);
    expect(hits('listen 10.0.0.7:8000 and 10.0.0.0/8 and [2001:db8::1]:443')).toEqual([
      ['ip_address', '10.0.0.7'],
      ['ip_address', '10.0.0.0'],
      ['ip_address', '2001:db8::1'],
    ]);
  });

  it('does not fire on loopback, unspecified, versions, longer dotted numbers, times, MACs or C++ scopes', () => {
    const text =
      '127.0.0.1, 0.0.0.0, 255.255.255.255, ::1, ::, v1.2.3.4, 1.2.3.4.5, 256.1.1.1, 01.02.03.04, 12:30:45, ' +
      '00:1a:2b:3c:4d:5e, std::vector<int>, a::b, dead::beef, xs[::2]';
    expect(hits(text)).toEqual([]);
  });
});

describe('secrets', () => {
  it('finds API keys by their published shapes', () => {
    const keys = [
      'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z',
      'sk-ant-api03-Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE',
      'sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6hIj9kLm2n',
      'AKIAIOSFODNN7EXAMPLE',
      'ghp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3d',
      'github_pat_11ABCDEFG0123456789abc_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6hIj9kLm2nOp5q',
      'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrSt',
      'AIzaSyA-1234567890abcdefghijklmnopqrstu',
      'sk_live_Ab3dEf6hIj9kLm2nOp5qRs8t',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    ];
    for (const k of keys) expect(hits(`key=${k} end`), k).toEqual([['secret', k]]);
  });

  it('reports the token after Bearer, not placeholders or prose', () => {
    expect(hits('Authorization: Bearer Ab3dEf6hIj9kLm2nOp5qRs8t.x~y')).toEqual([['secret', 'Ab3dEf6hIj9kLm2nOp5qRs8t.x~y']]);
    expect(hits('Authorization: Bearer YOUR_API_KEY_GOES_HERE, Bearer $OPENAI_API_KEY, the bearer of bad news')).toEqual([]);
  });

  it('finds a whole private-key block, and a truncated one up to its body', () => {
    const pem =
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBzZWNyZXQ=\n-----END OPENSSH PRIVATE KEY-----';
    expect(hits(`here:\n${pem}\nthanks`)).toEqual([['secret', pem]]);
    const truncated = '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu';
    expect(hits(`${truncated}\n\nCan you fix it?`)).toEqual([['secret', truncated]]);
    expect(hits('-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n-----END PUBLIC KEY-----')).toEqual([]);
  });

  it('does not fire on words that share a prefix', () => {
    expect(hits('task-queue, risk-free, disk-usage, sk-this-is-not-a-key-at-all, ask_live_x, AKIA123, eyJ, ghp_short')).toEqual([]);
  });
});

describe('scan, detect and enabled detectors', () => {
  it('the benchmark corpus of prose and code has no finding, and each planted item is found once', () => {
    expect(hits(CLEAN_FRAGMENTS.join('\n'))).toEqual([]);
    expect(hits(benchText(64 * 1024, 7, false))).toEqual([]);
    const expected: PiiDetector[] = ['email', 'phone', 'payment_card', 'iban', 'us_ssn', 'ip_address', 'secret'];
    PII_ITEMS.forEach((item, k) =>
      expect(
        hits(item).map(([d]) => d),
        item,
      ).toEqual([expected[k]]),
    );
    expect(kinds(benchText(64 * 1024, 7, true))).toEqual([...PII_DETECTORS].sort());
  });

  it('runs only the enabled detectors; a disabled one cannot hide what an enabled one sees', () => {
    const text = 'mail jane@example.com, iban NL91 ABNA 0417 1643 00';
    expect(hits(text, only('email'))).toEqual([['email', 'jane@example.com']]);
    expect(hits(text, new Set<PiiDetector>(['email', 'iban'])).map(([d]) => d)).toEqual(['email', 'iban']);
    expect(hits(text, only('phone'))).toEqual([['phone', '0417 1643 00']]);
    expect(detectPii(text, new Set())).toEqual(new Set());
  });

  it('stays linear on pathological 64 KB inputs (no regex backtracking blow-up)', () => {
    const fill = (s: string) => s.repeat(Math.ceil(65536 / s.length)).slice(0, 65536);
    const inputs = [
      fill('1 '),
      fill('1-'),
      fill('1.'),
      fill('4111 '),
      fill('a@'),
      `x@${fill('a.')}`,
      fill('a:'),
      fill('1:'),
      fill('DE89 3704 '),
      fill('sk-'),
      `sk-${fill('a')}`,
      fill('eyJaaaaaaaaaa.'),
      fill('Bearer '),
      fill('-----BEGIN RSA PRIVATE KEY-----\n'),
      fill('(12) '),
    ];
    for (const text of inputs) {
      const t0 = performance.now();
      scanPii(text);
      expect(performance.now() - t0, text.slice(0, 20)).toBeLessThan(1000);
    }
  });

  it('findings are sorted, non-overlapping, and detectPii is exactly their detectors', () => {
    const pieces = fc.constantFrom(
      ...PII_ITEMS,
      ...CLEAN_FRAGMENTS,
      'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl',
      '+44 20 7946 0958 4111 1111 1111 1111',
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 12 }), (parts) => {
        const text = parts.join(' ');
        const found = scanPii(text);
        for (let i = 1; i < found.length; i++) expect(found[i]?.start).toBeGreaterThanOrEqual(found[i - 1]?.end ?? 0);
        expect(detectPii(text)).toEqual(new Set(found.map((f) => f.detector)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('redaction', () => {
  it('replaces each finding with its typed placeholder and keeps the rest exactly', () => {
    const text =
      'Hi, I am Jane (jane.doe@example.com, +44 20 7946 0958). Card 4111 1111 1111 1111; IBAN DE89 3704 0044 0532 0130 00; SSN 536-22-8451; host 10.0.0.7; key AKIAIOSFODNN7EXAMPLE.';
    expect(redactPii(text, scanPii(text))).toBe(
      'Hi, I am Jane ([REDACTED_EMAIL], [REDACTED_PHONE]). Card [REDACTED_PAYMENT_CARD]; IBAN [REDACTED_IBAN]; SSN [REDACTED_US_SSN]; host [REDACTED_IP_ADDRESS]; key [REDACTED_SECRET].',
    );
  });

  it('uses UTF-16 offsets: text with accents, CJK and emoji before a finding stays intact', () => {
    const text = 'Grüße 🙂🙂 日本語のテキスト — mail jane@example.com 👍 and call +1 (555) 123-4567';
    const found = scanPii(text);
    expect(found[0]).toEqual({ detector: 'email', start: text.indexOf('jane@'), end: text.indexOf(' 👍') });
    expect(redactPii(text, found)).toBe('Grüße 🙂🙂 日本語のテキスト — mail [REDACTED_EMAIL] 👍 and call [REDACTED_PHONE]');
  });

  it('leaves clean text unchanged, merges overlapping findings, and rejects offsets outside the text', () => {
    expect(redactPii('nothing here', [])).toBe('nothing here');
    const merged = redactPii('abcdefghij', [
      { detector: 'phone', start: 4, end: 8 },
      { detector: 'email', start: 2, end: 6 },
    ]);
    expect(merged).toBe('ab[REDACTED_EMAIL]ij');
    expect(() => redactPii('short', [{ detector: 'email', start: 2, end: 9 }])).toThrow(RangeError);
  });
});

// ---- properties ----------------------------------------------------------------------------

function luhnSum(digits: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits[digits.length - 1 - i] ?? 0;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10;
}

/** Clean words (ASCII, accented, CJK, emoji, small numbers) that never form PII side by side. */
const filler = fc
  .array(fc.constantFrom('the', 'router', 'Grüße', '日本語', '🙂', 'naïve', '42', '3.14', '2024-05-01', 'v1.2.3', '$19.99', '12:30', 'x@y', '—', 'end.'), {
    maxLength: 20,
  })
  .map((w) => w.join(' '));

const ISSUERS: readonly (readonly [string, number])[] = [
  ['4', 16],
  ['4', 13],
  ['4', 19],
  ['51', 16],
  ['55', 16],
  ['2221', 16],
  ['34', 15],
  ['37', 15],
  ['6011', 16],
  ['65', 16],
  ['3530', 16],
  ['36', 14],
];
const validCard = fc
  .tuple(fc.constantFrom(...ISSUERS), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 18, maxLength: 18 }))
  .map(([[prefix, length], rest]) => {
    const body = [...prefix]
      .map(Number)
      .concat(rest)
      .slice(0, length - 1);
    const check = (10 - luhnSum([...body, 0])) % 10;
    return [...body, check].join('');
  });
const cardFormat = fc.constantFrom('plain', 'space', 'dash');
function formatCard(pan: string, format: string): string {
  if (format === 'plain') return pan;
  const sep = format === 'space' ? ' ' : '-';
  const groups =
    pan.length === 15
      ? [pan.slice(0, 4), pan.slice(4, 10), pan.slice(10)]
      : pan.length === 14
        ? [pan.slice(0, 4), pan.slice(4, 10), pan.slice(10)]
        : (pan.match(/.{1,4}/g) ?? []);
  return groups.join(sep);
}

const DIGITS = '0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ALNUM = DIGITS + UPPER;
/** BBAN layouts as (alphabet, count) runs, for countries whose national check ibantools does not add. */
const BBANS: Readonly<Record<string, readonly (readonly [string, number])[]>> = {
  DE: [[DIGITS, 18]],
  GB: [
    [UPPER, 4],
    [DIGITS, 14],
  ],
  NL: [
    [UPPER, 4],
    [DIGITS, 10],
  ],
  AT: [[DIGITS, 16]],
  IT: [
    [UPPER, 1],
    [DIGITS, 10],
    [ALNUM, 12],
  ],
  CH: [
    [DIGITS, 5],
    [ALNUM, 12],
  ],
  IE: [
    [UPPER, 4],
    [DIGITS, 14],
  ],
  SE: [[DIGITS, 20]],
  LU: [
    [DIGITS, 3],
    [ALNUM, 13],
  ],
};
function mod97(s: string): number {
  let r = 0;
  for (const ch of s) {
    const v = ch >= 'A' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of v) r = (r * 10 + Number(d)) % 97;
  }
  return r;
}
const validIban = fc
  .constantFrom(...Object.keys(BBANS))
  .chain((cc) =>
    fc.tuple(
      fc.constant(cc),
      fc.tuple(...(BBANS[cc] ?? []).map(([alphabet, n]) => fc.array(fc.constantFrom(...alphabet), { minLength: n, maxLength: n }).map((a) => a.join('')))),
    ),
  )
  .map(([cc, parts]) => {
    const bban = parts.join('');
    const check = 98 - mod97(`${bban}${cc}00`);
    return `${cc}${String(check).padStart(2, '0')}${bban}`;
  });

describe('properties', () => {
  it('a valid card embedded in random text is always found exactly', () => {
    fc.assert(
      fc.property(filler, validCard, cardFormat, filler, (before, pan, format, after) => {
        const card = formatCard(pan, format);
        const text = `${before} ${card} ${after}`;
        const start = before.length + 1;
        expect(scanPii(text)).toContainEqual({ detector: 'payment_card', start, end: start + card.length });
      }),
      { numRuns: 500 },
    );
  });

  it('a valid IBAN embedded in random text is always found exactly, in either form', () => {
    fc.assert(
      fc.property(filler, validIban, fc.boolean(), filler, (before, electronic, print, after) => {
        const iban = print ? (electronic.match(/.{1,4}/g) ?? []).join(' ') : electronic;
        const text = `${before} ${iban} ${after}`;
        const start = before.length + 1;
        expect(scanPii(text)).toContainEqual({ detector: 'iban', start, end: start + iban.length });
      }),
      { numRuns: 500 },
    );
  });

  it('a digit string that fails Luhn is never reported as a card', () => {
    const failing = fc
      .tuple(fc.integer({ min: 2, max: 6 }), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 12, maxLength: 18 }))
      .map(([first, rest]) => [first, ...rest])
      .filter((d) => luhnSum(d) !== 0)
      .map((d) => d.join(''));
    fc.assert(
      fc.property(filler, failing, cardFormat, filler, (before, digits, format, after) => {
        const text = `${before} ${format === 'plain' || digits.length !== 16 ? digits : formatCard(digits, format)} ${after}`;
        expect(scanPii(text, only('payment_card'))).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });
});
