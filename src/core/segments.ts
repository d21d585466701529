import type { Encoding } from './message.js';

/**
 * A 7-bit alphabet as a carrier applies it: the characters that cost one septet and those sent through the escape
 * (two septets). Anything else switches the whole message to UCS-2.
 */
export interface Alphabet {
  basic: ReadonlySet<string>;
  extension: ReadonlySet<string>;
}

export function alphabet(basic: string, extension: string): Alphabet {
  return { basic: new Set(basic), extension: new Set(extension) };
}

/** GSM 03.38 default alphabet (one septet each) and its extension table (escape + septet: two each). */
export const GSM_03_38: Alphabet = alphabet(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿' +
    'abcdefghijklmnopqrstuvwxyzäöñüà',
  '\f^{}\\[~]|€',
);

const LIMITS: Readonly<Record<Encoding, { single: number; multipart: number }>> = {
  'GSM-7': { single: 160, multipart: 153 },
  // ASCII 7-bit packs like GSM-7 (Telnyx short codes): 140 bytes hold 160 characters, 153 with a part header.
  'ASCII-7': { single: 160, multipart: 153 },
  'UCS-2': { single: 70, multipart: 67 },
};

export interface SegmentInfo {
  encoding: Encoding;
  /** Septets (GSM-7, ASCII-7) or UTF-16 code units (UCS-2) the text needs. */
  units: number;
  segments: number;
}

/**
 * How one carrier encodes and splits a text body. `from` matters to some carriers (Telnyx sends short-code
 * traffic as ASCII 7-bit); '' is a number the carrier picks from a pool.
 */
export type SegmentCounter = (text: string, from: string) => SegmentInfo;

/**
 * Encoding and segment count of an SMS body under GSM 03.38 (Twilio's rules, and the default). Any character
 * outside GSM-7 switches the whole message to UCS-2.
 */
export function countSegments(text: string): SegmentInfo {
  return countWith(GSM_03_38, text);
}

/**
 * Encoding and segments of `text` in a 7-bit alphabet, or in UCS-2 when a character is outside it. Split messages
 * carry a header, so each part holds 153 septets or 67 UCS-2 units; a character never straddles two parts (an
 * escaped GSM character or a surrogate pair moves whole to the next part), which is why parts are packed here
 * rather than divided.
 */
export function countWith(set: Alphabet, text: string, encoding: 'GSM-7' | 'ASCII-7' = 'GSM-7'): SegmentInfo {
  const widths: number[] = [];
  for (const ch of text) {
    if (set.basic.has(ch)) widths.push(1);
    else if (set.extension.has(ch)) widths.push(2);
    else return countUcs2(text);
  }
  return pack(encoding, widths);
}

/** Every character of ASCII (U+0000 to U+007F) as one septet; anything else makes the message UCS-2. */
export function countAscii7(text: string): SegmentInfo {
  const widths: number[] = [];
  for (const ch of text) {
    if ((ch.codePointAt(0) ?? 0x80) > 0x7f) return countUcs2(text);
    widths.push(1);
  }
  return pack('ASCII-7', widths);
}

function countUcs2(text: string): SegmentInfo {
  const widths: number[] = [];
  // `for...of` walks code points: a character outside the BMP is a surrogate pair, two UCS-2 units.
  for (const ch of text) widths.push(ch.length);
  return pack('UCS-2', widths);
}

function pack(encoding: Encoding, widths: readonly number[]): SegmentInfo {
  const units = widths.reduce((sum, w) => sum + w, 0);
  const limits = LIMITS[encoding];
  if (units === 0) return { encoding, units, segments: 0 };
  if (units <= limits.single) return { encoding, units, segments: 1 };
  let segments = 1;
  let fill = 0;
  for (const w of widths) {
    if (fill + w > limits.multipart) {
      segments += 1;
      fill = 0;
    }
    fill += w;
  }
  return { encoding, units, segments };
}
