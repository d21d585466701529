import Telnyx from 'telnyx';
import { describe, expect, it } from 'vitest';
import { classifyTelnyx } from '../../src/providers/telnyx/send.js';

const telnyxError = (status: number, code: string, headers: Record<string, string> = {}) =>
  Telnyx.APIError.generate(
    status,
    { errors: [{ code, title: 't', detail: `detail ${code}` }] },
    undefined,
    new Headers(headers),
  );

const NOW = 1_750_000_000_000;

describe("Telnyx's error classes (its error dictionary)", () => {
  it.each([
    // 40311 "Invalid messaging profile secret" (403): the account's side; another carrier can send it.
    [telnyxError(403, '40311'), 'provider'],
    // 40305 "Invalid 'from' address", 40013 "Invalid source number": the sender, not the recipient.
    [telnyxError(400, '40305'), 'sender'],
    [telnyxError(400, '40013'), 'sender'],
    [telnyxError(400, '40012'), 'recipient'],
    [telnyxError(400, '40001'), 'recipient'],
    [telnyxError(409, '40300'), 'opted_out'],
    [telnyxError(429, '40318'), 'rate_limited'],
  ])('%#: %s', (error, klass) => {
    expect(classifyTelnyx(error, NOW)).toMatchObject({ class: klass });
  });
});

describe("Telnyx's 429 headers", () => {
  const limited = (headers: Record<string, string>) =>
    classifyTelnyx(telnyxError(429, '10011', headers), NOW).retryAfterMs;

  it('waits until x-ratelimit-reset, given in seconds from now as Telnyx documents', () => {
    expect(
      limited({ 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '7' }),
    ).toBe(7000);
    expect(limited({ 'x-ratelimit-reset': '0.5' })).toBe(500);
  });

  it('reads a reset that can only be a Unix time as one', () => {
    expect(limited({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 + 12) })).toBe(
      12_000,
    );
    // Already past: retry now rather than never.
    expect(limited({ 'x-ratelimit-reset': String(NOW / 1000 - 30) })).toBe(0);
  });

  it('lets Retry-After win when both are present', () => {
    expect(limited({ 'retry-after': '3', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '40' })).toBe(
      3000,
    );
  });

  it('backs off on its own when the headers say requests are left or say nothing readable', () => {
    expect(limited({ 'x-ratelimit-remaining': '12', 'x-ratelimit-reset': '40' })).toBeNull();
    expect(limited({ 'x-ratelimit-reset': 'soon' })).toBeNull();
    expect(limited({})).toBeNull();
    // Not a 429: the headers every Telnyx answer carries mean nothing about waiting.
    expect(
      classifyTelnyx(
        telnyxError(500, '10007', { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '9' }),
        NOW,
      ).retryAfterMs,
    ).toBeNull();
  });
});
