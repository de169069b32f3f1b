// Keyword domain classifier for the semantic, domain and rules strategies.
//   words   = lowercase runs of [a-z0-9+#] in the non-system prompt text (last 16 K chars)
//   hits_d  = number of words in domain d's keyword set (WHOLE words: "capital" is not "api")
//   domain  = argmax hits_d (ties: list order), or `general` when no word hits
//   confidence = hits_domain / Σ hits
import type { PromptSegment } from '../request/types.js';
import type { Domain } from '../config/names.js';

const KEYWORDS: ReadonlyArray<readonly [Domain, readonly string[]]> = [
  [
    'coding',
    [
      'code',
      'coding',
      'function',
      'python',
      'javascript',
      'typescript',
      'java',
      'rust',
      'golang',
      'c++',
      'c#',
      'sql',
      'bug',
      'debug',
      'compile',
      'compiler',
      'api',
      'regex',
      'algorithm',
      'refactor',
      'stacktrace',
      'exception',
      'html',
      'css',
      'git',
      'programming',
      'unittest',
      'kubernetes',
      'docker',
      'bash',
      'script',
      'variable',
      'class',
      'method',
      'library',
      'npm',
      'json',
      'yaml',
    ],
  ],
  [
    'math',
    [
      'math',
      'maths',
      'mathematics',
      'equation',
      'equations',
      'integral',
      'derivative',
      'calculus',
      'algebra',
      'theorem',
      'proof',
      'prove',
      'solve',
      'matrix',
      'probability',
      'geometry',
      'polynomial',
      'factorial',
      'logarithm',
      'arithmetic',
      'fraction',
      'prime',
      'integer',
      'vector',
    ],
  ],
  [
    'creative',
    [
      'story',
      'poem',
      'poetry',
      'haiku',
      'novel',
      'fiction',
      'character',
      'plot',
      'lyrics',
      'song',
      'creative',
      'imagine',
      'fantasy',
      'screenplay',
      'narrative',
      'sonnet',
      'limerick',
    ],
  ],
  [
    'medical',
    [
      'medical',
      'symptom',
      'symptoms',
      'diagnosis',
      'disease',
      'treatment',
      'patient',
      'doctor',
      'medication',
      'medicine',
      'dose',
      'dosage',
      'clinical',
      'therapy',
      'infection',
      'cancer',
      'diabetes',
      'blood',
      'pain',
      'surgery',
      'prescription',
    ],
  ],
  [
    'legal',
    [
      'legal',
      'law',
      'laws',
      'contract',
      'clause',
      'court',
      'lawsuit',
      'attorney',
      'lawyer',
      'liability',
      'statute',
      'regulation',
      'plaintiff',
      'defendant',
      'jurisdiction',
      'gdpr',
      'copyright',
      'trademark',
      'patent',
      'litigation',
    ],
  ],
  [
    'scientific',
    [
      'physics',
      'chemistry',
      'biology',
      'molecule',
      'molecular',
      'quantum',
      'experiment',
      'hypothesis',
      'scientific',
      'science',
      'atom',
      'electron',
      'protein',
      'dna',
      'genome',
      'evolution',
      'thermodynamics',
      'photosynthesis',
      'enzyme',
    ],
  ],
  [
    'translation',
    ['translate', 'translation', 'translated', 'french', 'spanish', 'german', 'chinese', 'japanese', 'italian', 'portuguese', 'korean', 'russian', 'arabic'],
  ],
  ['summarization', ['summarize', 'summarise', 'summary', 'summarization', 'tldr', 'condense', 'gist', 'recap', 'shorten', 'abridge']],
];

const LOOKUP = new Map<string, number>();
KEYWORDS.forEach(([, words], d) => {
  for (const w of words) if (!LOOKUP.has(w)) LOOKUP.set(w, d);
});

const SCAN_CHARS = 16_384;
const WORD = /[a-z0-9+#]+/g;

export interface DomainGuess {
  readonly domain: Domain;
  readonly confidence: number;
}

export function classifyText(text: string): DomainGuess {
  const hits = new Array<number>(KEYWORDS.length).fill(0);
  let total = 0;
  for (const m of text.toLowerCase().matchAll(WORD)) {
    const d = LOOKUP.get(m[0]);
    if (d !== undefined) {
      hits[d] = (hits[d] as number) + 1;
      total++;
    }
  }
  if (total === 0) return { domain: 'general', confidence: 0 };
  let best = 0;
  for (let d = 1; d < hits.length; d++) if ((hits[d] as number) > (hits[best] as number)) best = d;
  return { domain: (KEYWORDS[best] as (typeof KEYWORDS)[number])[0], confidence: (hits[best] as number) / total };
}

/** Classify the conversation's non-system text, latest turns first when it is long. */
export function classifyPrompt(segments: readonly PromptSegment[]): DomainGuess {
  let text = '';
  for (let i = segments.length - 1; i >= 0 && text.length < SCAN_CHARS; i--) {
    const s = segments[i] as PromptSegment;
    if (s.role === 'system' || s.role === 'developer') continue;
    text = `${s.text} ${text}`;
  }
  if (text.length > SCAN_CHARS) {
    // Cut to the last SCAN_CHARS characters without leaving a partial word at the start.
    const cut = text.slice(-SCAN_CHARS);
    const ws = cut.search(/\s/);
    text = ws >= 0 ? cut.slice(ws + 1) : '';
  }
  return classifyText(text);
}
