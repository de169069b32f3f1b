// Prompt text for the PII benchmark and the no-false-positive test: English prose and code
// full of ordinary numbers (versions, dates, times, prices, ports, IDs, UUIDs, hashes,
// decorators, C++ scopes) and, for the "with PII" variant, a handful of planted items.
// Deterministic for a seed. The planted items are well-known test values, not real data.
import { seededRng } from '../../core/rng.js';

export const CLEAN_FRAGMENTS: readonly string[] = [
  'Routing a request well means knowing which replica already holds the longest prefix of the prompt in its cache. When two replicas are equally warm, the router prefers the one with the shorter queue, and when neither is warm it spreads the load so that no single replica becomes a hot spot for a popular system prompt.',
  'In the first quarter the team shipped three releases. The second release fixed a regression in the scheduler that had doubled tail latency under bursty traffic, and the third added support for structured outputs. Customer feedback was positive, although several people asked for clearer error messages when a model is unavailable.',
  "Before you begin, make sure the service account has read access to the bucket and that the region matches the cluster's region. Then run the migration script once in dry-run mode, review the plan it prints, and only afterwards apply it. If anything looks wrong, stop and ask in the channel before retrying.",
  'Summarise the following meeting notes for an executive audience. Keep it under 200 words, lead with the decision that was made, list the two open risks, and end with the owner and the date of the next review. Do not include the names of people who only attended.',
  "The novel follows a lighthouse keeper who, over the course of a single winter, receives letters from a stranger who claims to know the fate of his missing brother. Each chapter alternates between the keeper's diary and the letters, and the reader slowly realises that both narrators are unreliable.",
  'Please review this pull request. It replaces the hand-written retry loop with the shared helper, removes the unused configuration flag, and adds tests for the timeout path. I am not sure whether the new default of five attempts is too aggressive for batch jobs, so please comment on that in particular.',
  'The router keeps a prefix index of 2048 blocks per model and evicts the oldest after 15 minutes.',
  "@Component({ selector: 'app-root', templateUrl: './app.component.html' })\nexport class AppComponent { @Input() size = 42; version = '1.2.3'; }",
  'const deadline = Date.now() + 30_000; // 30 s, retried 3 times with 250 ms backoff',
  'std::vector<int> xs(1024); for (int i = 0; i < 256; ++i) xs[i] = i * 7; Node::next = nullptr;',
  "SELECT id, created_at FROM orders WHERE total > 199.99 AND created_at >= '2024-05-01 12:30:45';",
  'Release v2.14.3 (build 20240501.7) fixes #1234; see commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39.',
  'Request 550e8400-e29b-41d4-a716-446655440000 took 12.5 ms at 2024-05-01T12:30:45.123Z on port 8080.',
  'Order 1234567890123 shipped: 3 items, $1,299.00 total, tracking 9400111899223344556677.',
  'The meeting moved from 10:30 to 14:00 on 05/06/2024; room 4.12, floor 3, 2 hours.',
  'Python 3.11.4, numpy 1.26.0, torch 2.3.1+cu121; y = x @ w.T; a matrix of 1024 x 4096.',
  "pip install 'fastapi>=0.110,<1.0' && uvicorn main:app --port 8000 --workers 4",
  'Temperatures ranged from -3.5 to 27.8 degrees across 365 days in 1999 and 2000 (UTC+05:30).',
  'kubectl scale deployment/vllm --replicas=3 # 0.5 GPU each, 16 GiB, timeout 120s, 10.0.19045',
  'SHA-256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855, MD5 d41d8cd98f00b204e9800998ecf8427e',
  '{"id": 987654321, "score": 0.8125, "ts": 1714567890123, "tags": ["a", "b"], "port": 8080, "ratio": 16:9}',
  'The quick brown fox jumps over the lazy dog; Windows 10.0.19045.2965 and macOS 14.4.1 both pass.',
  'Call center hours are Monday to Friday, 9 to 5. Ticket #48213 closed after 3 days, score 4.5/5.',
  'Between 2019 and 2023 revenue grew 12.5% to 3.4 billion; 1 234 567 units; ISBN 978-3-16-148410-0.',
  'git clone git@github.com:org/repo.git && cd repo && git checkout -b fix/issue-1234 && npm i left-pad@1.3.0',
  'Use localhost:3000 or 127.0.0.1:8080 and bind 0.0.0.0; the slice a[::2] and icon@2x.png stay.',
  'task-queue, risk-free, disk-usage, ask-me: an eyeJ token? No. The Bearer of bad news; bearer YOUR_TOKEN_HERE_PLEASE.',
];

export const PII_ITEMS: readonly string[] = [
  'Please email jane.doe@example.com about it.',
  'Call me on +44 20 7946 0958 tomorrow.',
  'Card 4111 1111 1111 1111, exp 12/27.',
  'Pay to DE89 3704 0044 0532 0130 00 today.',
  'My SSN is 536-22-8451.',
  'The box is at 192.168.10.24 behind the VPN.',
  'export OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z',
];

/** About `size` code units of clean text (seeded), or with every PII item planted once at spread positions. */
export function benchText(size: number, seed: number, withPii: boolean): string {
  const rng = seededRng(seed);
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    const f = CLEAN_FRAGMENTS[Math.floor(rng.next() * CLEAN_FRAGMENTS.length)] ?? '';
    parts.push(f);
    n += f.length + 1;
  }
  if (withPii) {
    PII_ITEMS.forEach((item, k) => {
      const at = Math.floor(((k + 0.5) / PII_ITEMS.length) * parts.length);
      parts[at] = item;
    });
  }
  return parts.join('\n').slice(0, size);
}
