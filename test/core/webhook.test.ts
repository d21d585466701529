import { describe, expect, it } from 'vitest';
import { SwitchboardError } from '../../src/core/errors.js';
import { parseForm } from '../../src/core/webhook.js';

describe('parseForm', () => {
  it('decodes plus as space and percent escapes, and keeps repeated names in order', () => {
    const p = parseForm('Body=Hello+w%C3%B6rld&MediaUrl=a&MediaUrl=b&Empty=&Flag');
    expect(p.Body).toBe('Hello wörld');
    expect(p.MediaUrl).toEqual(['a', 'b']);
    expect(p.Empty).toBe('');
    expect(p.Flag).toBe('');
  });

  it('treats __proto__ as an ordinary parameter', () => {
    const p = parseForm('__proto__=x&constructor=y');
    expect(p['__proto__']).toBe('x');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('rejects invalid percent-encoding with malformed_body', () => {
    expect(() => parseForm('Body=%zz')).toThrow(SwitchboardError);
    try {
      parseForm('Body=%E0%A4%A');
    } catch (err) {
      expect((err as SwitchboardError).code).toBe('malformed_body');
    }
  });
});
