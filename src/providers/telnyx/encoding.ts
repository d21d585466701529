import { alphabet, countAscii7, countWith, type SegmentInfo } from '../../core/segments.js';

// Telnyx's own GSM 7-bit set, "optimized for maximum carrier compatibility": a subset of GSM 03.38 without € § ¤ Ç,
// the Greek capitals and the form feed; anything outside it goes as UTF-16 (70 units, 67 per part, an emoji two).
// Short codes default to ASCII 7-bit, long codes, toll-free and alphanumeric senders to GSM-7. At most 10 parts.
// Source: https://developers.telnyx.com/docs/messaging/messages/message-encoding (its segment calculator's
// GSM_CHARSET, and "The characters ~^|\{}[] require escape codes and count as 2 characters").
const TELNYX_GSM_7 = alphabet(
  '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\r !"#$%&\'()*+,-./:;<=>?@_' +
    '£¥èéùìòØøÅåÆæßÉ¡ÄÖÑÜ¿äöñüà',
  '~^|\\{}[]',
);

// A short code is 3 to 8 digits (as core/phone.ts normalizeSender keeps them).
const SHORT_CODE = /^\d{3,8}$/;

/** How Telnyx encodes and splits a text body sent from `from` ('' : a number of the messaging profile). */
export function telnyxSegments(text: string, from: string): SegmentInfo {
  return SHORT_CODE.test(from) ? countAscii7(text) : countWith(TELNYX_GSM_7, text);
}
