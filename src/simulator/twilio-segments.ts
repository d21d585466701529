// How Twilio encodes and splits a body, for num_segments in its answers. The simulator counts on its own rather than
// with the gateway's core/segments.ts: a test of the gateway's counting against the simulator must compare two
// independent readings of the carrier's rules, not one function with itself.
//
// Source: Twilio's segment calculator (github.com/TwilioDevEd/message-segment-calculator, UnicodeToGSM.ts and
// SegmentedMessage.ts) and https://www.twilio.com/docs/glossary/what-sms-character-limit: GSM-7 is the GSM 03.38
// default alphabet plus its extension table (form feed ^ { } \ [ ~ ] | €, two septets each); anything else makes the
// whole message UCS-2. A segment holds 140 octets; split messages spend 6 of them on a header, leaving 153 septets
// or 67 UCS-2 units; a character (an escaped GSM pair, a grapheme in UCS-2) is never split across two segments.
// Smart Encoding (a Messaging Service option that swaps curly quotes and the like for GSM look-alikes) is not
// played.

const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿' +
  'abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION = '\f^{}\\[~]|€';

const SEPTETS = new Map<string, number>([
  ...[...GSM7_BASIC].map((c): [string, number] => [c, 1]),
  ...[...GSM7_EXTENSION].map((c): [string, number] => [c, 2]),
]);

const SINGLE = { 'GSM-7': 160, 'UCS-2': 70 } as const;
const MULTIPART = { 'GSM-7': 153, 'UCS-2': 67 } as const;

let graphemes: Intl.Segmenter | undefined;

export interface TwilioSegments {
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
}

/** Twilio's encoding and segment count for a body (0 segments for an empty one). */
export function twilioSegments(body: string): TwilioSegments {
  const septets: number[] = [];
  for (const ch of body) {
    const width = SEPTETS.get(ch);
    if (width === undefined) return { encoding: 'UCS-2', segments: ucs2Segments(body) };
    septets.push(width);
  }
  return { encoding: 'GSM-7', segments: pack(septets, 'GSM-7') };
}

function ucs2Segments(body: string): number {
  // Most bodies fit in one segment: no need to find grapheme boundaries.
  if (body.length <= SINGLE['UCS-2']) return body.length === 0 ? 0 : 1;
  graphemes ??= new Intl.Segmenter('en', { granularity: 'grapheme' });
  // A grapheme (an emoji with its modifiers, a letter with its accents) moves whole to the next segment.
  const units = Array.from(graphemes.segment(body), (g) => g.segment.length);
  return pack(units, 'UCS-2');
}

function pack(widths: number[], encoding: 'GSM-7' | 'UCS-2'): number {
  const total = widths.reduce((sum, w) => sum + w, 0);
  if (total === 0) return 0;
  if (total <= SINGLE[encoding]) return 1;
  let segments = 1;
  let fill = 0;
  for (const w of widths) {
    if (fill + w > MULTIPART[encoding]) {
      segments += 1;
      fill = 0;
    }
    fill += w;
  }
  return segments;
}
