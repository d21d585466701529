import type { Encoding } from './message.js';

// GSM 03.38 default alphabet (one septet each) and its extension table (escape + septet: two each).
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿' +
  'abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION = '\f^{}\\[~]|€';

const BASIC = new Set(GSM7_BASIC);
const EXTENSION = new Set(GSM7_EXTENSION);

const LIMITS = {
  'GSM-7': { single: 160, multipart: 153 },
  'UCS-2': { single: 70, multipart: 67 },
} as const;

export interface SegmentInfo {
  encoding: Encoding;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2) the text needs. */
  units: number;
  segments: number;
}

/**
 * Encoding and segment count of an SMS body, as carriers meter it. Any character outside GSM-7 switches the whole
 * message to UCS-2. Split messages carry a header, so each part holds 153 septets or 67 UCS-2 units; a character
 * never straddles two parts (an escaped GSM character or a surrogate pair moves whole to the next part), which is
 * why parts are packed here rather than divided.
 */
export function countSegments(text: string): SegmentInfo {
  const widths: number[] = [];
  let gsm = true;
  for (const ch of text) {
    if (BASIC.has(ch)) widths.push(1);
    else if (EXTENSION.has(ch)) widths.push(2);
    else {
      gsm = false;
      break;
    }
  }
  if (!gsm) {
    widths.length = 0;
    // `for...of` walks code points: a character outside the BMP is a surrogate pair, two UCS-2 units.
    for (const ch of text) widths.push(ch.length);
  }
  const encoding: Encoding = gsm ? 'GSM-7' : 'UCS-2';
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
