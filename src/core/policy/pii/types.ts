// The detector names, the finding shape and the collector every detector writes into.
// Offsets are UTF-16 code-unit indexes into the scanned string (what String#slice takes).

import type { PiiDetector } from '../../../config/names.js';

export { PII_DETECTORS, type PiiDetector } from '../../../config/names.js';

export interface PiiFinding {
  readonly detector: PiiDetector;
  /** First code unit of the match. */
  readonly start: number;
  /** One past the last code unit of the match. */
  readonly end: number;
}

/** Where detectors put their raw (possibly overlapping) hits; `wants` skips a disabled detector's pass. */
export interface Collector {
  wants(detector: PiiDetector): boolean;
  add(detector: PiiDetector, start: number, end: number): void;
}

export class FindingList implements Collector {
  readonly found: PiiFinding[] = [];
  constructor(private readonly enabled: ReadonlySet<PiiDetector> | undefined) {}
  wants(detector: PiiDetector): boolean {
    return this.enabled === undefined || this.enabled.has(detector);
  }
  add(detector: PiiDetector, start: number, end: number): void {
    this.found.push({ detector, start, end });
  }
}
