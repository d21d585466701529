import { describe, expect, it } from 'vitest';
import { maskPhone, maskPhonesIn, maskPhonesInUrl, normalizeAddress } from '../../src/core/phone.js';

describe('normalizeAddress', () => {
  it('keeps E.164 as is and normalizes formatted international numbers', () => {
    expect(normalizeAddress('+14155550100')).toBe('+14155550100');
    expect(normalizeAddress('+1 (415) 555-0100')).toBe('+14155550100');
    expect(normalizeAddress(' +44 20 7946 0958 ')).toBe('+442079460958');
  });

  it('keeps short codes and alphanumeric sender ids as sent', () => {
    expect(normalizeAddress('12345')).toBe('12345');
    expect(normalizeAddress('ACME')).toBe('ACME');
  });
});

describe('masking', () => {
  it('masks a number to its prefix and last three digits', () => {
    expect(maskPhone('+14155550234')).toBe('+1415****234');
    expect(maskPhone('12345')).toBe('****');
  });

  it('masks numbers inside URLs, plain or percent-encoded', () => {
    const masked = maskPhonesIn('/v1/messages?from=%2B14155550234&to=+442079460958&limit=50');
    expect(masked).not.toContain('14155550234');
    expect(masked).not.toContain('442079460958');
    expect(masked).toContain('limit=50');
  });

  it('masks numbers written with separators, plain or percent-encoded', () => {
    for (const text of [
      '/v1/messages?from=%2B1%20415%20555%200123',
      'call +1 (415) 555-0123 now',
      'x=1-415-555-0123',
    ]) {
      const masked = maskPhonesIn(text);
      expect(masked.replace(/\D/g, '')).not.toContain('5550123');
      expect(masked).toContain('****');
    }
    expect(maskPhonesIn('/v1/messages?limit=50&since=2026')).toBe('/v1/messages?limit=50&since=2026');
    // Ids stay readable: their digit groups are not numbers.
    for (const path of [
      '/v1/messages/01a1fea1-26f0-7374-842f-5a7df0871629',
      '/v1/events/01a1fea1-2600-7374-8420-123456789012',
      '/v1/messages/SM0123456789abcdef0123456789abcdef',
    ]) {
      expect(maskPhonesIn(path)).toBe(path);
    }
    expect(maskPhonesIn('/v1/events?messageId=01a1fea1-2600-7374-8420-123456789012&to=%2B14155550234')).toBe(
      '/v1/events?messageId=01a1fea1-2600-7374-8420-123456789012&to=%2B1415****234',
    );
  });
});

describe('masking URLs', () => {
  /** The digits a log line would show: none of the number's subscriber part may survive. */
  const digits = (text: string) => text.replace(/\D/g, '');

  it.each([
    ['plus as space', '/v1/messages?to=%2B1+415+555+0123'],
    ['percent-encoded spaces', '/v1/messages?to=%2B1%20415%20555%200123'],
    ['mixed', '/v1/messages?to=%2B1+415%20555-0123&limit=5'],
    ['an unencoded plus', '/v1/messages?to=+14155550123'],
    ['double encoding', '/v1/messages?to=%252B14155550123'],
    ['double-encoded spaces', '/v1/messages?to=%252B1%2520415%2520555%25200123'],
    ['no plus', '/v1/messages?to=14155550123'],
    ['national format', '/v1/messages?to=%28415%29%20555-0123'],
    ['encoded digits', '/v1/messages?to=%2B%31%34%31%35%35%35%35%30%31%32%33'],
    ['a malformed escape beside it', '/v1/messages?to=%2B14155550123%zz'],
    ['a path segment', '/dashboard/api/conversation/%2B1%20415%20555%200123'],
    ['a parameter name', '/v1/messages?%2B14155550123=x'],
  ])('masks a number written with %s', (_how, url) => {
    const masked = maskPhonesInUrl(url);
    expect(digits(masked)).not.toContain('5550123');
    expect(masked).toContain('****');
  });

  /**
   * The digits a reader of the log line would see, whatever script they are written in: decoded, NFKC-folded, and
   * other scripts' digits read as digits (libphonenumber reads all of these as the number).
   */
  const readable = (url: string) => {
    let text = url.replaceAll('%zz', '');
    for (let i = 0; i < 3; i++) text = decodeURIComponent(text);
    return text
      .normalize('NFKC')
      .replace(/[\u0660-\u0669\u06F0-\u06F9]/g, (d) => String(d.charCodeAt(0) & 0xf))
      .replace(/\D/g, '');
  };
  const q = (number: string) => `/v1/messages?to=${encodeURIComponent(number)}&limit=5`;

  it.each([
    ['slashes', '/v1/messages?to=%2B1%2F415%2F555%2F0123'],
    ...['\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212'].map((dash) => [
      `the dash U+${dash.charCodeAt(0).toString(16).toUpperCase()}`,
      q(`+1${dash}415${dash}555${dash}0123`),
    ]),
    ['fullwidth digits and plus', q('＋１４１５５５５０１２３')],
    ['fullwidth digits, unencoded', '/v1/messages?to=＋１４１５５５５０１２３'],
    ['fullwidth punctuation', q('+1（415）555－0123')],
    ['fullwidth digits beside a malformed escape', `${q('＋１４１５５５５０１２３')}%zz`],
    ['Arabic-Indic digits', q('+١٤١٥٥٥٥٠١٢٣')],
    ['Eastern Arabic-Indic digits', q('+۱۴۱۵۵۵۵۰۱۲۳')],
    ['invisible separators', q('+1\u00AD415\u200B555\u20600123')],
    ['ideographic spaces', q('+1\u3000415\u3000555\u30000123')],
    ['brackets, dots and tildes', q('+1[415]555.01~23')],
    ['an extension', q('+14155550123x12')],
  ])('masks a number written with %s', (_how, url) => {
    const masked = maskPhonesInUrl(url as string);
    expect(readable(masked)).not.toContain('5550123');
    expect(masked).toContain('****');
  });

  it('keeps ids whole beside numbers written in other scripts', () => {
    const id = '01a1fea1-2600-7374-8420-123456789012';
    expect(
      maskPhonesInUrl(`/v1/events?messageId=${id}&to=${encodeURIComponent('＋１４１５５５５０１２３')}`),
    ).toBe(`/v1/events?messageId=${id}&to=%2B1415****123`);
    expect(maskPhonesInUrl(`/v1/messages/${id}`)).toBe(`/v1/messages/${id}`);
  });

  it('writes the masked number back encoded, and everything else exactly as received', () => {
    expect(maskPhonesInUrl('/v1/messages?to=%2B1+415+555+0123&limit=50&since=2026-11-21T00%3A00%3A00Z')).toBe(
      '/v1/messages?to=%2B1415****123&limit=50&since=2026-11-21T00%3A00%3A00Z',
    );
    expect(maskPhonesInUrl('/v1/messages?direction=inbound&limit=20')).toBe(
      '/v1/messages?direction=inbound&limit=20',
    );
    expect(maskPhonesInUrl('/webhooks')).toBe('/webhooks');
    for (const url of [
      '/v1/messages/01a1fea1-26f0-7374-842f-5a7df0871629',
      '/v1/events?messageId=01a1fea1-2600-7374-8420-123456789012&limit=10',
      '/v1/messages/SM0123456789abcdef0123456789abcdef',
      '/v1/messages?cursor=MDFhMWZlYTEtMjZmMC03Mzc0LTg0MmYtNWE3ZGYwODcxNjI5',
    ]) {
      expect(maskPhonesInUrl(url)).toBe(url);
    }
  });
});
