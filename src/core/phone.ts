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

// A phone-number-like run: an optional plus (maybe percent-encoded), then 7 to 15 digits, which may be separated by
// spaces, dots, dashes or parentheses, plain or percent-encoded (`%2B1%20415%20555%200123`).
const SEPARATOR = String.raw`(?:[\s.()-]|%20|%2D|%28|%29)*`;
// Not glued to letters or digits: a run inside an id (`01a1fea1-26f0-7374-842f`) is not a number.
const PHONE_LIKE = new RegExp(
  String.raw`(?<![0-9A-Za-z])(?:\+|%2B)?\d(?:${SEPARATOR}\d){6,14}(?![0-9A-Za-z])`,
  'gi',
);
// Ids (UUIDs) are kept whole: their all-digit groups, joined by dashes, would look like a number.
const UUID_OR_REST = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i;

/** Masks every phone-number-like run in free text (URLs, messages) before it is logged; ids are left alone. */
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
