// The one place an ExchangeEnv is built (serve, warm-up, tests): the Router plus the
// process's hooks, with quiet defaults.
import { randomUUID } from 'node:crypto';
import type { Router } from '../router/router.js';
import type { ExchangeEnv } from './exchange-state.js';

export function exchangeEnv(router: Router, hooks: Partial<Omit<ExchangeEnv, 'router'>> = {}): ExchangeEnv {
  return {
    router,
    newRequestId: hooks.newRequestId ?? randomUUID,
    report: hooks.report ?? (() => undefined),
    heldBodies: hooks.heldBodies ?? { bytes: 0 },
    onInternalError: hooks.onInternalError,
    shadow: hooks.shadow,
    responseCache: hooks.responseCache,
  };
}
