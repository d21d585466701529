import { parsePhoneNumberFromString } from 'libphonenumber-js';

// Already E.164: a plus, a non-zero country digit, 7 to 15 digits in all. Carriers send this form almost always,
// so it skips the (much slower) full parse on the webhook hot path.
const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * A carrier-supplied address in E.164 where it is a phone number. Short codes ("12345") and alphanumeric sender
 * ids ("ACME") are not phone numbers and are kept as sent; Switchboard never invents a country for them.
 */
export function normalizeAddress(raw: string): string {
  const trimmed = raw.trim();
  if (E164.test(trimmed)) return trimmed;
  if (!trimmed.startsWith('+')) return trimmed;
  const parsed = parsePhoneNumberFromString(trimmed);
  return parsed ? parsed.number : trimmed;
}

// Short codes (3 to 8 digits) and alphanumeric sender ids (up to 11 characters, at least one letter) are senders
// too; they are kept as written.
const SHORT_CODE = /^\d{3,8}$/;
const ALPHANUMERIC_ID = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;

/** A sender as a client or operator wrote it: E.164, short code or alphanumeric id; null when it is none of them. */
export function normalizeSender(raw: string): string | null {
  const trimmed = raw.trim();
  if (SHORT_CODE.test(trimmed) || ALPHANUMERIC_ID.test(trimmed)) return trimmed;
  return toE164(trimmed);
}

/** A phone number a client gave, in E.164, or null when libphonenumber's metadata says it is not valid. */
export function toE164(raw: string): string | null {
  const parsed = parsePhoneNumberFromString(raw.trim());
  return parsed?.isValid() ? parsed.number : null;
}

/**
 * A phone number as logs may show it: `+14155550234` -> `+1415****234`. Logs must never hold a whole number,
 * and short values are masked entirely rather than revealed.
 */
export function maskPhone(value: string): string {
  if (value.length < 9) return '****';
  return `${value.slice(0, 5)}****${value.slice(-3)}`;
}

// What libphonenumber accepts between digits: its VALID_PUNCTUATION (dashes, slashes, dots, spaces and invisible
// joiners, brackets, tildes, with their fullwidth forms; libphonenumber-js source/constants.js), with the `x` Google's
// libphonenumber adds (an extension: `+14155550123x12` is that number). Fullwidth forms are mostly folded by NFKC
// before matching (see maskComponent); they stay here for text masked as it is.
const PUNCTUATION = String.raw`\-x\u2010-\u2015\u2212\u30FC\uFF0D-\uFF0F \u00A0\u00AD\u200B\u2060\u3000()\uFF08\uFF09\uFF3B\uFF3D.\[\]/~\u2053\u223C\uFF5E`;
// A phone-number-like run: an optional plus (maybe percent-encoded), then 7 to 15 digits, which may be separated by
// that punctuation, whitespace or plus signs (a space, in a query string), plain or percent-encoded
// (`%2B1%20415%20555%200123`, `%2B1+415+555+0123`, `%2B1%2F415%2F555%2F0123`).
const SEPARATOR = String.raw`(?:[\s+${PUNCTUATION}]|%20|%2B|%2D|%28|%29|%2E|%2F)*`;
// Not glued to letters or digits: a run inside an id (`01a1fea1-26f0-7374-842f`) is not a number.
const PHONE_LIKE = new RegExp(
  String.raw`(?<![0-9A-Za-z])(?:\+|%2B)?\d(?:${SEPARATOR}\d){6,14}(?![0-9A-Za-z])`,
  'gi',
);
// Ids (UUIDs) are kept whole: their all-digit groups, joined by dashes, would look like a number.
const UUID_OR_REST = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i;

/** Masks every phone-number-like run in free text before it is logged; ids are left alone. */
export function maskPhonesIn(text: string): string {
  return text
    .split(UUID_OR_REST)
    .map((part, i) => (i % 2 === 1 ? part : maskRuns(part)))
    .join('');
}

function maskRuns(text: string): string {
  return text.replace(PHONE_LIKE, (match) => {
    const plus = match.startsWith('+') ? '+' : match.slice(0, 3).toUpperCase() === '%2B' ? '%2B' : '';
    const digits = match.slice(plus.length).replace(/%[0-9A-F]{2}|\D/gi, '');
    return `${plus}${digits.slice(0, 4)}****${digits.slice(-3)}`;
  });
}

// A number needs 7 digits, and each is written as a digit or as %3X: a URL with fewer holds none.
const MIN_DIGITS = 7;
const PERCENT_ESCAPE = /%[0-9A-Fa-f]{2}/;
// Clients encode once, twice (`%252B`) or not at all; three rounds undo any of these.
const MAX_DECODINGS = 3;

/**
 * Masks phone numbers in a URL's path and query string before it is logged. Each path segment, parameter name and
 * value is decoded first (percent-encoding, repeatedly for double encoding), so `?to=%2B1+415+555+0123` or
 * `%252B14155550123` is seen as the number it is; a component holding one is written back masked and encoded once,
 * any other exactly as received.
 */
export function maskPhonesInUrl(url: string): string {
  let digits = 0;
  for (let i = 0; i < url.length && digits < MIN_DIGITS; i++) {
    const c = url.charCodeAt(i);
    // Anything beyond ASCII might be a digit of another script (fullwidth, Arabic-Indic) written unencoded.
    if ((c >= 48 && c <= 57) || c >= 0x80) digits++;
  }
  if (digits < MIN_DIGITS) return url;
  const q = url.indexOf('?');
  const path = (q === -1 ? url : url.slice(0, q)).split('/').map(maskComponent).join('/');
  if (q === -1) return path;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq === -1
        ? maskComponent(pair)
        : `${maskComponent(pair.slice(0, eq))}=${maskComponent(pair.slice(eq + 1))}`;
    })
    .join('&');
  return `${path}?${query}`;
}

function maskComponent(raw: string): string {
  let decoded = raw;
  for (let i = 0; i < MAX_DECODINGS && PERCENT_ESCAPE.test(decoded); i++) decoded = decodeLeniently(decoded);
  const text = foldDigits(decoded);
  // A `+` is left as it is: the masker reads it as a plus or as a separator, whichever it meant.
  const masked = maskPhonesIn(text);
  return masked === text ? raw : encodeURIComponent(masked);
}

// Digits libphonenumber reads that NFKC leaves alone (its VALID_DIGITS): Arabic-Indic and Eastern Arabic-Indic.
const ARABIC_DIGIT = /[\u0660-\u0669\u06F0-\u06F9]/g;
// Anything but printable ASCII (a URL component holds no control characters): only that can change when folded.
const NOT_PRINTABLE_ASCII = /[^ -~]/;

/**
 * Text as libphonenumber reads a number in it: NFKC (fullwidth digits, plus and punctuation become ASCII;
 * `＋１４１５…` is `+1415…`) and other scripts' digits as ASCII ones, so the masker sees what the parser sees.
 */
function foldDigits(text: string): string {
  if (!NOT_PRINTABLE_ASCII.test(text)) return text;
  return text.normalize('NFKC').replace(ARABIC_DIGIT, (d) => String(d.charCodeAt(0) & 0xf));
}

/**
 * decodeURIComponent; where the text holds a malformed escape (`%zz`, half a UTF-8 sequence), each run of escapes
 * that decodes is decoded as UTF-8 (so fullwidth digits stay digits) and the rest byte by byte.
 */
function decodeLeniently(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      }
    });
  }
}
