// The dashboard on the admin port: GET /dashboard (the page), /dashboard/app.js and
// /dashboard/style.css (dashboard/ at the package root: static files, no build step), and
// GET / redirecting to it. The page reads the admin JSON endpoints itself (dashboard/app.js).
// Served with a strict Content-Security-Policy: the page's own script and style only, fetches
// to this port only, nothing from elsewhere (it works offline).
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { AdminRoute } from './http-server.js';

/** dashboard/ of the package, from src/admin/ (tests) and dist/admin/ (the build) alike. */
export const DASHBOARD_DIR = new URL('../../dashboard/', import.meta.url);

const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/dashboard': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function redirect(res: ServerResponse, location: string): void {
  // Relative, so the page also works behind a proxy that mounts the admin port under a path.
  res.writeHead(302, { location, 'content-length': 0 });
  res.end();
}

export function dashboardRoutes(dir: URL = DASHBOARD_DIR): AdminRoute {
  // Read once, on first use; a file missing from the package fails that request (500), not the start.
  const cache = new Map<string, Promise<Buffer>>();
  const load = (file: string): Promise<Buffer> => {
    let p = cache.get(file);
    if (p === undefined) {
      p = readFile(new URL(file, dir));
      p.catch(() => cache.delete(file));
      cache.set(file, p);
    }
    return p;
  };
  return async (req, res, url) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const search = url.search;
    if (url.pathname === '/') {
      redirect(res, `dashboard${search}`);
      return true;
    }
    if (url.pathname === '/dashboard/') {
      redirect(res, `../dashboard${search}`);
      return true;
    }
    const f = FILES[url.pathname];
    if (f === undefined) return false;
    const body = await load(f.file);
    res.writeHead(200, {
      'content-type': f.type,
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': CSP,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
