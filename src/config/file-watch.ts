// Reload on change: the fleet file (and its identity.keys_file) are read again whenever their
// content changes, checked every `intervalMs`. Polling, not fs.watch: a Kubernetes ConfigMap
// or Secret volume updates by swapping a symlink (`..data`) to a new directory, which inotify
// watches on the file do not see, and editors that write a new file and rename it replace the
// inode. A change is the content's SHA-256 changing (a touch without an edit reloads nothing);
// a file that cannot be read counts as a change too, so the reload reports it and keeps the
// current fleet.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Fleet } from './fleet.js';

/** The files a fleet was loaded from: the fleet file, and its keys file when it has one. */
export function fleetSources(fleetPath: string, fleet: Fleet): string[] {
  const keys = fleet.file.identity?.keys_file;
  return keys === undefined ? [fleetPath] : [fleetPath, resolve(dirname(fleetPath), keys)];
}

async function digest(path: string): Promise<string> {
  try {
    return createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  } catch (e) {
    return `unreadable:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

export interface FileWatch {
  /** Take the files' current content as the baseline (after a reload, whatever started it). */
  rebase(paths: readonly string[]): Promise<void>;
  stop(): void;
}

/**
 * Calls `onChange` (awaited; no overlap) when any of the files' content differs from the
 * baseline. `onChange` returns the files to watch from then on (a reload may add a keys file).
 */
export function watchFiles(initial: readonly string[], intervalMs: number, onChange: () => Promise<readonly string[]>): FileWatch {
  let paths = [...initial];
  let seen = new Map<string, string>();
  let busy = false;
  let stopped = false;
  const baseline = async (list: readonly string[]) => {
    paths = [...list];
    seen = new Map(await Promise.all(paths.map(async (p) => [p, await digest(p)] as const)));
  };
  const ready = baseline(paths);
  const tick = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      await ready;
      const now = await Promise.all(paths.map(async (p) => [p, await digest(p)] as const));
      if (now.some(([p, d]) => seen.get(p) !== d)) {
        const next = await onChange();
        await baseline(next);
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return {
    rebase: async (list) => {
      await ready;
      await baseline(list);
    },
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
