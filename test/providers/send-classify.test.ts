import Telnyx from 'telnyx';
import { describe, expect, it } from 'vitest';
import { classifyTelnyx } from '../../src/providers/telnyx/send.js';
import { TwilioApiError } from '../../src/providers/twilio/http-client.js';
import { classifyTwilio } from '../../src/providers/twilio/send.js';

const twilioError = (status: number, code: number, headers: Record<string, string> = {}) =>
  new TwilioApiError({ statusCode: status, body: { code, message: `error ${code}`, status }, headers });

const telnyxError = (status: number, code: string, headers: Record<string, string> = {}) =>
  Telnyx.APIError.generate(
    status,
    { errors: [{ code, title: 't', detail: `detail ${code}` }] },
    undefined,
    new Headers(headers),
  );

describe('classifying carrier failures', () => {
  it.each([
    [twilioError(429, 20429), 'rate_limited', '20429'],
    [twilioError(400, 21610), 'opted_out', '21610'],
    [twilioError(400, 21211), 'recipient', '21211'],
    [twilioError(400, 21614), 'recipient', '21614'],
    [twilioError(401, 20003), 'provider', '20003'],
    [twilioError(400, 21606), 'sender', '21606'],
    [twilioError(500, 20500), 'transient', '20500'],
    [twilioError(503, 99999), 'transient', '99999'],
    [twilioError(400, 21617), 'rejected', '21617'],
  ])('Twilio %#: %s', (error, klass, code) => {
    expect(classifyTwilio(error)).toMatchObject({ class: klass, code });
  });

  it.each([
    [telnyxError(429, '10011', { 'retry-after': '2' }), 'rate_limited', '10011', 2000],
    [telnyxError(400, '40300'), 'opted_out', '40300', null],
    [telnyxError(400, '40310'), 'recipient', '40310', null],
    [telnyxError(401, '10009'), 'provider', '10009', null],
    [telnyxError(500, '10007'), 'transient', '10007', null],
    [telnyxError(422, '10004'), 'rejected', '10004', null],
  ])('Telnyx %#: %s', (error, klass, code, retryAfterMs) => {
    expect(classifyTelnyx(error)).toMatchObject({ class: klass, code, retryAfterMs });
  });

  it('keeps Retry-After from a Twilio answer that has one', () => {
    expect(classifyTwilio(twilioError(429, 20429, { 'retry-after': '3' })).retryAfterMs).toBe(3000);
  });

  it('treats timeouts, refused connections and unknown throws as transient', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(classifyTwilio(refused)).toMatchObject({ class: 'transient', code: 'econnrefused' });
    const timeout = Object.assign(new Error('timeout of 100ms exceeded'), { code: 'ECONNABORTED' });
    expect(classifyTwilio(timeout)).toMatchObject({ class: 'transient', code: 'timeout' });
    expect(classifyTelnyx(new Telnyx.APIConnectionTimeoutError())).toMatchObject({
      class: 'transient',
      code: 'timeout',
    });
    expect(classifyTelnyx('something odd')).toMatchObject({ class: 'transient' });
  });
});
