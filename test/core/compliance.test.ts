import { describe, expect, it } from 'vitest';
import { detectKeyword, optOutChange } from '../../src/core/compliance.js';

describe('detectKeyword', () => {
  it('recognizes opt-out, opt-in and help words in any case with stray punctuation', () => {
    expect(detectKeyword('STOP')).toBe('stop');
    expect(detectKeyword(' stop! ')).toBe('stop');
    expect(detectKeyword('Unsubscribe.')).toBe('stop');
    expect(detectKeyword('start')).toBe('start');
    expect(detectKeyword('UNSTOP')).toBe('start');
    expect(detectKeyword('help?')).toBe('help');
  });

  it('ignores keywords inside ordinary text', () => {
    expect(detectKeyword("please don't stop")).toBeNull();
    expect(detectKeyword('stop it now')).toBeNull();
    expect(detectKeyword('')).toBeNull();
  });

  it('maps STOP to add, START to remove and HELP to no change', () => {
    expect(optOutChange('stop')).toBe('add');
    expect(optOutChange('start')).toBe('remove');
    expect(optOutChange('help')).toBeNull();
    expect(optOutChange(null)).toBeNull();
  });
});
