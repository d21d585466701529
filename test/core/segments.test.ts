import { describe, expect, it } from 'vitest';
import { countSegments } from '../../src/core/segments.js';
import { telnyxSegments } from '../../src/providers/telnyx/encoding.js';

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

describe("each carrier's own encoding", () => {
  const twilio = (text: string) => countSegments(text);
  const telnyx = (text: string, from = '+13125550001') => telnyxSegments(text, from);

  it('keeps the characters of GSM 03.38 that Telnyx leaves out in GSM-7 for Twilio only', () => {
    // Telnyx's set has no € § ¤ Ç, Greek capitals or form feed: one of them makes the message UTF-16 there.
    for (const ch of ['€', '§', '¤', 'Ç', 'Δ', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\f']) {
      expect(twilio(`Price ${ch}`).encoding, ch).toBe('GSM-7');
      expect(telnyx(`Price ${ch}`), ch).toMatchObject({ encoding: 'UCS-2', units: 7 });
    }
  });

  it("counts every character of Telnyx's documented set as GSM-7, the escaped ones as two", () => {
    // Written out from https://developers.telnyx.com/docs/messaging/messages/message-encoding.
    const single =
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!"#$%&\'()*+,-./:;<=>?@ \n\r_' +
      '£¥èéùìòØøÅåÆæßÉ¡ÄÖÑÜ¿äöñüà';
    for (const ch of single)
      expect(telnyx(ch), JSON.stringify(ch)).toEqual({ encoding: 'GSM-7', units: 1, segments: 1 });
    for (const ch of '~^|\\{}[]')
      expect(telnyx(ch), ch).toEqual({ encoding: 'GSM-7', units: 2, segments: 1 });
    // The grave accent is in neither GSM set.
    expect(telnyx('`').encoding).toBe('UCS-2');
    expect(twilio('`').encoding).toBe('UCS-2');
  });

  it('splits UTF-16 as 70, then 67 per part, an emoji two units; at most 10 parts is checked elsewhere', () => {
    expect(telnyx('€'.repeat(70))).toEqual({ encoding: 'UCS-2', units: 70, segments: 1 });
    expect(telnyx('€'.repeat(700))).toEqual({ encoding: 'UCS-2', units: 700, segments: 11 });
    expect(twilio('€'.repeat(700))).toEqual({ encoding: 'GSM-7', units: 1400, segments: 10 });
    expect(telnyx('😀'.repeat(35))).toEqual({ encoding: 'UCS-2', units: 70, segments: 1 });
  });

  it('encodes short-code traffic as ASCII 7-bit: every ASCII character one unit, anything else UTF-16', () => {
    expect(telnyx('{[`~]}', '12345')).toEqual({ encoding: 'ASCII-7', units: 6, segments: 1 });
    expect(telnyx('a'.repeat(161), '12345')).toEqual({ encoding: 'ASCII-7', units: 161, segments: 2 });
    // é is GSM-7 from a long code, but not ASCII.
    expect(telnyx('café', '12345').encoding).toBe('UCS-2');
    expect(telnyx('café').encoding).toBe('GSM-7');
    // A number the messaging profile picks ('') is a long code.
    expect(telnyx('café', '').encoding).toBe('GSM-7');
  });
});
