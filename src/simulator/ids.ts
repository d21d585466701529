import { randomUUID } from 'node:crypto';

// randomUUID draws from a cached entropy pool, which makes it the cheapest source of unique ids in Node.

/** A Twilio SID: two-letter prefix + 32 hex digits. */
export function twilioSid(prefix: string): string {
  return prefix + randomUUID().replaceAll('-', '');
}

export function uuid(): string {
  return randomUUID();
}

let rfcSecond = -1;
let rfcText = '';

/** Twilio's date format (RFC 2822, "Thu, 24 Aug 2023 05:01:45 +0000"), computed once per second under load. */
export function rfc2822(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== rfcSecond) {
    rfcSecond = second;
    rfcText = new Date(second * 1000).toUTCString().replace('GMT', '+0000');
  }
  return rfcText;
}

/**
 * Twilio's RawDlrDoneDate: YYMMDDhhmm, to the minute, in the receiving carrier's local time, with nothing saying
 * which zone that is.
 */
export function dlrDate(ms: number, utcOffsetMinutes: number): string {
  const d = new Date(ms + utcOffsetMinutes * 60_000);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    two(d.getUTCFullYear() % 100) +
    two(d.getUTCMonth() + 1) +
    two(d.getUTCDate()) +
    two(d.getUTCHours()) +
    two(d.getUTCMinutes())
  );
}

// Two slots: a Telnyx record formats received_at and valid_until, and under load many records share both.
const isoMs = [NaN, NaN];
const isoText = ['', ''];

/** Telnyx's timestamps: ISO 8601 with an explicit +00:00 offset, as in its documented payloads. */
export function telnyxTime(ms: number): string {
  if (ms === isoMs[0]) return isoText[0]!;
  if (ms === isoMs[1]) return isoText[1]!;
  const text = new Date(ms).toISOString().replace('Z', '+00:00');
  isoMs[1] = isoMs[0]!;
  isoText[1] = isoText[0]!;
  isoMs[0] = ms;
  isoText[0] = text;
  return text;
}
