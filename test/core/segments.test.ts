import { describe, expect, it } from 'vitest';
import { countSegments } from '../../src/core/segments.js';

describe('countSegments', () => {
  it('fits 160 GSM-7 characters in one segment and splits the 161st into two of 153', () => {
    expect(countSegments('a'.repeat(160))).toEqual({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(countSegments('a'.repeat(161))).toEqual({ encoding: 'GSM-7', units: 161, segments: 2 });
    expect(countSegments('a'.repeat(306)).segments).toBe(2);
    expect(countSegments('a'.repeat(307)).segments).toBe(3);
  });

  it('counts extension-table characters as two septets', () => {
    expect(countSegments('€'.repeat(80))).toEqual({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(countSegments('{}[]~|^\\€')).toMatchObject({ encoding: 'GSM-7', units: 18 });
    expect(countSegments(`${'a'.repeat(159)}€`).segments).toBe(2);
  });

  it('does not split an escaped character across two parts', () => {
    // 306 septets would divide into two parts of 153, but the € (2 septets) after 152 cannot fit in part one:
    // it opens part two, which then overflows into a third.
    const text = `${'a'.repeat(152)}€${'a'.repeat(152)}`;
    expect(countSegments(text)).toMatchObject({ units: 306, segments: 3 });
  });

  it('switches the whole message to UCS-2 for one non-GSM character', () => {
    expect(countSegments(`${'a'.repeat(69)}ł`)).toEqual({ encoding: 'UCS-2', units: 70, segments: 1 });
    expect(countSegments(`${'a'.repeat(70)}ł`)).toEqual({ encoding: 'UCS-2', units: 71, segments: 2 });
    expect(countSegments('a'.repeat(134) + 'ł').segments).toBe(3);
  });

  it('counts characters outside the BMP as two UCS-2 units and keeps surrogate pairs whole', () => {
    expect(countSegments('😀'.repeat(35))).toEqual({ encoding: 'UCS-2', units: 70, segments: 1 });
    // 66 units then an emoji (2 units): 68 > 67, so the emoji opens part two.
    const text = `${'ł'.repeat(66)}😀${'ł'.repeat(66)}`;
    expect(countSegments(text)).toMatchObject({ units: 134, segments: 3 });
  });

  it('accepts the GSM-7 specials like é, Ø, newline and @', () => {
    expect(countSegments('é Ø\n@£$¥').encoding).toBe('GSM-7');
  });

  it('has no segments for empty text', () => {
    expect(countSegments('')).toEqual({ encoding: 'GSM-7', units: 0, segments: 0 });
  });
});
