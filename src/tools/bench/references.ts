// The two references of a virtual run, computed apart from the policies: the infinite-cache
// hit-rate ceiling (workload.ts idealHitRate) and the pooled cache (pooled.ts). They depend
// only on the scenario (same seed → same request stream), so they can run in a child process
// on the machine's other core while the policies run here: a run's wall time becomes
// max(policies, references) instead of their sum. A child process rather than a worker
// thread, so each side's CPU is its own process's (process.cpuUsage, GC threads included) and
// the per-policy CPU figures mean what they meant before. The child is the compiled
// reference-child.js beside this file; under a TypeScript runner (tests on the sources) it
// does not exist and the references run in this process, after the policies.
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpuMsSince, type DesResult } from './des.js';
import { runPooled } from './pooled.js';
import { streamOf, type Scenario } from './scenarios.js';
import { createWorkload, idealHitRate } from './workload.js';

export interface References {
  /** Infinite shared cache: the workload's hit-rate ceiling. */
  readonly ceiling: number;
  readonly pooled: DesResult;
  /** CPU ms the references took (their process's when they ran in a child). */
  readonly cpuMs: number;
}

/** Both references, in this process. */
export function computeReferences(s: Scenario): References {
  const cpu0 = process.cpuUsage();
  const ceiling = idealHitRate(createWorkload(s.spec, streamOf(s)), s.model.blockTokens).rate;
  const pooled = runPooled(s);
  return { ceiling, pooled, cpuMs: cpuMsSince(cpu0) };
}

/** The compiled child entry, when there is one. */
export function referenceChildPath(): string | undefined {
  const p = fileURLToPath(new URL('./reference-child.js', import.meta.url));
  return existsSync(p) ? p : undefined;
}

/** Both references in a child process (`childPath`, the compiled reference-child.js). */
export function referencesInChild(s: Scenario, childPath: string): Promise<References> {
  return new Promise((resolve, reject) => {
    // The ceiling's infinite cache holds one key per distinct block (≈ 250 M at 10^6 adversarial requests): typed arrays, off the V8 heap.
    const child = fork(childPath, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    let done = false;
    child.once('message', (m: References) => {
      done = true;
      resolve(m);
    });
    child.once('error', (err) => {
      if (!done) reject(err);
    });
    child.once('exit', (code, signal) => {
      if (!done) reject(new Error(`reference child exited (${signal ?? `code ${String(code)}`}) before it answered`));
    });
    child.send(s);
  });
}
