// Budget windows: UTC calendar days and months. A window's id names its counters
// (`d2026-11-28`, `m2026-11`); its reset is the next UTC midnight / first of the month.
export type BudgetWindow = 'day' | 'month';

export function windowId(window: BudgetWindow, wallMs: number): string {
  const d = new Date(wallMs);
  const y = d.getUTCFullYear();
  const m = String(d.getUTCMonth() + 1).padStart(2, '0');
  return window === 'day' ? `d${y}-${m}-${String(d.getUTCDate()).padStart(2, '0')}` : `m${y}-${m}`;
}

/** Wall ms when the window containing `wallMs` ends. */
export function windowEnd(window: BudgetWindow, wallMs: number): number {
  const d = new Date(wallMs);
  return window === 'day' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}
