import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formBody,
  signedTelnyx,
  telnyxKeys,
  telnyxReceived,
  twilioInbound,
  twilioSignature,
} from '../helpers/carriers.js';
import { countMessages, startGateway, type TestGateway, json } from '../helpers/gateway.js';

const keys = telnyxKeys();
let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
});
afterAll(async () => gw.close());

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = await json(res);
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
  expect(body.error.message.length).toBeGreaterThan(10);
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('bad input never gets stored and always gets a clear code', () => {
  it('Twilio without a signature: 403 signature_missing', async () => {
    await expectError(
      await gw.post('/webhooks', { headers: FORM, body: formBody(twilioInbound()) }),
      403,
      'signature_missing',
    );
  });

  it('Twilio with a wrong signature: 403 signature_invalid', async () => {
    const params = twilioInbound();
    const sig = twilioSignature(`${gw.base}/webhooks`, { ...params, Body: 'other' });
    await expectError(
      await gw.post('/webhooks', { headers: { ...FORM, 'x-twilio-signature': sig }, body: formBody(params) }),
      403,
      'signature_invalid',
    );
  });

  it('Twilio signature valid for another URL: 403 signature_invalid', async () => {
    const params = twilioInbound();
    const sig = twilioSignature(`${gw.base}/other-endpoint`, params);
    await expectError(
      await gw.post('/webhooks', { headers: { ...FORM, 'x-twilio-signature': sig }, body: formBody(params) }),
      403,
      'signature_invalid',
    );
  });

  it('Telnyx with a tampered body: 403 signature_invalid', async () => {
    const req = signedTelnyx(keys, telnyxReceived());
    await expectError(
      await gw.post('/webhooks', { ...req, body: req.body.replace('Hello', 'Hullo') }),
      403,
      'signature_invalid',
    );
  });

  it('Telnyx with a stale or a future timestamp: 403 timestamp_out_of_range', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectError(
      await gw.post('/webhooks', signedTelnyx(keys, telnyxReceived(), now - 301)),
      403,
      'timestamp_out_of_range',
    );
    await expectError(
      await gw.post('/webhooks', signedTelnyx(keys, telnyxReceived(), now + 400)),
      403,
      'timestamp_out_of_range',
    );
  });

  it('Telnyx without a signature: 403 signature_missing', async () => {
    const raw = JSON.stringify(telnyxReceived());
    await expectError(
      await gw.post('/webhooks/telnyx', { headers: { 'content-type': 'application/json' }, body: raw }),
      403,
      'signature_missing',
    );
  });

  it('a body over 64 KiB: 413 payload_too_large', async () => {
    const params = twilioInbound({ Body: 'x'.repeat(70 * 1024) });
    await expectError(await gw.postTwilio(params), 413, 'payload_too_large');
  });

  it('malformed JSON: 400 malformed_body', async () => {
    await expectError(
      await gw.post('/webhooks', { headers: { 'content-type': 'application/json' }, body: '{"data":' }),
      400,
      'malformed_body',
    );
  });

  it('malformed form encoding: 400 malformed_body', async () => {
    await expectError(
      await gw.post('/webhooks', { headers: FORM, body: 'AccountSid=AC1&Body=%E0%A4%A' }),
      400,
      'malformed_body',
    );
  });

  it('a correctly signed Telnyx body that is not JSON: 400 malformed_body', async () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const raw = 'not json at all';
    const res = await gw.post('/webhooks/telnyx', {
      headers: {
        'content-type': 'application/json',
        'telnyx-signature-ed25519': keys.sign(raw, timestamp),
        'telnyx-timestamp': String(timestamp),
      },
      body: raw,
    });
    await expectError(res, 400, 'malformed_body');
  });

  it('a signed webhook missing required fields: 400 invalid_payload', async () => {
    const { From: _from, ...params } = twilioInbound();
    await expectError(await gw.postTwilio(params), 400, 'invalid_payload');
  });

  it('a payload neither carrier would send: 400 unknown_provider', async () => {
    await expectError(
      await gw.post('/webhooks', {
        headers: { 'content-type': 'application/json' },
        body: '{"hello":"world"}',
      }),
      400,
      'unknown_provider',
    );
    await expectError(
      await gw.post('/webhooks', { headers: FORM, body: 'a=1&b=2' }),
      400,
      'unknown_provider',
    );
  });

  it('an unsupported content type: 415 unsupported_media_type', async () => {
    await expectError(
      await gw.post('/webhooks', { headers: { 'content-type': 'text/plain' }, body: 'hi' }),
      415,
      'unsupported_media_type',
    );
    await expectError(
      await gw.post('/webhooks', { headers: { 'content-type': 'application/xml' }, body: '<a/>' }),
      415,
      'unsupported_media_type',
    );
  });

  it('an empty body: 400 malformed_body', async () => {
    await expectError(await gw.post('/webhooks', { headers: FORM, body: '' }), 400, 'malformed_body');
  });

  it('GET (or PUT) on a webhook route: 405 with Allow: POST', async () => {
    const res = await fetch(`${gw.base}/webhooks`);
    expect(res.headers.get('allow')).toBe('POST');
    await expectError(res, 405, 'method_not_allowed');
    await expectError(
      await fetch(`${gw.base}/webhooks/twilio`, { method: 'PUT' }),
      405,
      'method_not_allowed',
    );
  });

  it('a malformed URL: 400 invalid_request in the usual error shape', async () => {
    await expectError(
      await gw.post('/webhooks/%E0%A4%A', { headers: FORM, body: 'a=1' }),
      400,
      'invalid_request',
    );
  });

  it('an unknown carrier in the path: 404 not_found', async () => {
    await expectError(await gw.post('/webhooks/nexmo', { headers: FORM, body: 'a=1' }), 404, 'not_found');
  });

  it('every rejection above left the database empty', async () => {
    expect(await countMessages(gw)).toBe(0);
  });
});

describe('a carrier that is not configured', () => {
  it('answers 403 provider_not_configured, detected or named', async () => {
    const twilioOnly = await startGateway();
    try {
      const raw = JSON.stringify(telnyxReceived());
      const headers = {
        'content-type': 'application/json',
        'telnyx-signature-ed25519': keys.sign(raw, 1),
        'telnyx-timestamp': '1',
      };
      await expectError(
        await twilioOnly.post('/webhooks', { headers, body: raw }),
        403,
        'provider_not_configured',
      );
      await expectError(
        await twilioOnly.post('/webhooks/telnyx', { headers, body: raw }),
        403,
        'provider_not_configured',
      );
      // Recognized by body shape alone, with no signature header.
      await expectError(
        await twilioOnly.post('/webhooks', { headers: { 'content-type': 'application/json' }, body: raw }),
        403,
        'provider_not_configured',
      );
      expect(await countMessages(twilioOnly)).toBe(0);
    } finally {
      await twilioOnly.close();
    }
  });
});

describe('UNSAFE_SKIP_WEBHOOK_VERIFICATION', () => {
  it('accepts unsigned webhooks only when the operator turned verification off', async () => {
    const unsafe = await startGateway({
      UNSAFE_SKIP_WEBHOOK_VERIFICATION: 'true',
      TWILIO_ACCOUNT_SID: '',
      TWILIO_AUTH_TOKEN: '',
    });
    try {
      const res = await unsafe.post('/webhooks', { headers: FORM, body: formBody(twilioInbound()) });
      expect(res.status).toBe(200);
      expect(await countMessages(unsafe)).toBe(1);
    } finally {
      await unsafe.close();
    }
  });
});
