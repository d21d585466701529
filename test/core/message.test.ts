import { describe, expect, it } from 'vitest';
import { advanceStatus, isTerminal, STATUSES, STATUS_RANK, type Status } from '../../src/core/message.js';

describe('advanceStatus', () => {
  it('moves forward through the normal delivery path', () => {
    let s: Status = 'queued';
    for (const next of ['sending', 'sent', 'delivered', 'read'] as const) {
      s = advanceStatus(s, next);
      expect(s).toBe(next);
    }
  });

  it('never lets a late sent replace delivered', () => {
    expect(advanceStatus('delivered', 'sent')).toBe('delivered');
    expect(advanceStatus('delivered', 'queued')).toBe('delivered');
  });

  it('never replaces a terminal status with a non-terminal one', () => {
    const terminal = STATUSES.filter(isTerminal);
    const nonTerminal = STATUSES.filter((s) => !isTerminal(s));
    for (const t of terminal) for (const n of nonTerminal) expect(advanceStatus(t, n)).toBe(t);
  });

  it('keeps the first failure outcome when another arrives', () => {
    expect(advanceStatus('failed', 'undelivered')).toBe('failed');
    expect(advanceStatus('undelivered', 'failed')).toBe('undelivered');
  });

  it('lets a delivery receipt override a failure report', () => {
    expect(advanceStatus('undelivered', 'delivered')).toBe('delivered');
  });

  it('keeps the current status for an unknown (null) carrier status', () => {
    expect(advanceStatus('sent', null)).toBe('sent');
  });

  it('ranks every terminal status above every non-terminal one', () => {
    const maxOpen = Math.max(...STATUSES.filter((s) => !isTerminal(s)).map((s) => STATUS_RANK[s]));
    for (const s of STATUSES.filter(isTerminal)) expect(STATUS_RANK[s]).toBeGreaterThan(maxOpen);
  });
});
