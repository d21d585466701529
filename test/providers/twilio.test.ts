import { describe, expect, it } from 'vitest';
import twilio from 'twilio';
import { SwitchboardError } from '../../src/core/errors.js';
import { RawWebhook } from '../../src/core/webhook.js';
import { parseTwilio } from '../../src/providers/twilio/parse.js';
import { mapTwilioStatus } from '../../src/providers/twilio/statuses.js';
import { bodyHashParameter, verifyTwilio } from '../../src/providers/twilio/verify.js';
import { twimlReply } from '../../src/providers/twilio/adapter.js';
import { twilioDetector } from '../../src/providers/twilio/detect.js';
import {
  formBody,
  TWILIO_SID,
  TWILIO_TOKEN,
  TWILIO_TOKEN_SECONDARY,
  twilioInbound,
  twilioSignature,
  twilioStatus,
} from '../helpers/carriers.js';

const URL_SIGNED = 'https://sms.example.com/webhooks';

function form(params: Record<string, string | string[]>, url = URL_SIGNED, signature?: string): RawWebhook {
  return new RawWebhook({
    method: 'POST',
    url,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(signature === undefined ? {} : { 'x-twilio-signature': signature }),
    },
    body: Buffer.from(formBody(params)),
    contentType: 'form',
    receivedAt: 1_700_000_000_000,
  });
}

describe('Twilio verification', () => {
  const params = twilioInbound();

  it('accepts a signature the SDK computed for the URL and every parameter, answering it as the replay key', () => {
    const sig = twilioSignature(URL_SIGNED, params);
    // The store remembers the signature, so that it cannot come again with other parameters.
    expect(verifyTwilio(form(params, URL_SIGNED, sig), [TWILIO_TOKEN], TWILIO_SID)).toEqual({
      ok: true,
      replayKey: sig,
    });
  });

  it('accepts the secondary token during a rotation', () => {
    const sig = twilioSignature(URL_SIGNED, params, TWILIO_TOKEN_SECONDARY);
    expect(
      verifyTwilio(form(params, URL_SIGNED, sig), [TWILIO_TOKEN, TWILIO_TOKEN_SECONDARY], TWILIO_SID).ok,
    ).toBe(true);
    expect(verifyTwilio(form(params, URL_SIGNED, sig), [TWILIO_TOKEN], TWILIO_SID)).toMatchObject({
      ok: false,
      code: 'signature_invalid',
    });
  });

  it('accepts a URL Twilio signed with the default port', () => {
    const sig = twilioSignature('https://sms.example.com:443/webhooks', params);
    expect(verifyTwilio(form(params, URL_SIGNED, sig), [TWILIO_TOKEN], TWILIO_SID).ok).toBe(true);
  });

  it('rejects a signature made for another URL', () => {
    const sig = twilioSignature('https://evil.example.com/webhooks', params);
    expect(verifyTwilio(form(params, URL_SIGNED, sig), [TWILIO_TOKEN], TWILIO_SID)).toMatchObject({
      code: 'signature_invalid',
    });
  });

  it('rejects a tampered parameter and a parameter added after signing', () => {
    const sig = twilioSignature(URL_SIGNED, params);
    expect(
      verifyTwilio(form({ ...params, Body: 'changed' }, URL_SIGNED, sig), [TWILIO_TOKEN], TWILIO_SID).ok,
    ).toBe(false);
    expect(
      verifyTwilio(form({ ...params, Extra: 'x' }, URL_SIGNED, sig), [TWILIO_TOKEN], TWILIO_SID).ok,
    ).toBe(false);
  });

  it('verifies over parameters it does not know, and over every value of a repeated one', () => {
    const withNew = {
      ...params,
      BrandNewTwilioField: 'v',
      MediaUrl: ['https://b.example', 'https://a.example'],
    };
    const sig = twilioSignature(URL_SIGNED, withNew);
    expect(verifyTwilio(form(withNew, URL_SIGNED, sig), [TWILIO_TOKEN], TWILIO_SID).ok).toBe(true);
  });

  it('reports a missing header as signature_missing', () => {
    expect(verifyTwilio(form(params), [TWILIO_TOKEN], TWILIO_SID)).toMatchObject({
      ok: false,
      code: 'signature_missing',
    });
  });

  it('answers, never throws, when the URL cannot be rebuilt (the code of the failure)', () => {
    const req = new RawWebhook({
      method: 'POST',
      url: () => {
        throw new SwitchboardError('invalid_forwarded_header');
      },
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'x' },
      body: Buffer.from(formBody(params)),
      contentType: 'form',
      receivedAt: 1_700_000_000_000,
    });
    expect(verifyTwilio(req, [TWILIO_TOKEN], TWILIO_SID)).toMatchObject({
      ok: false,
      code: 'invalid_forwarded_header',
    });
  });

  it('rejects a correctly signed webhook for another account', () => {
    const other = { ...params, AccountSid: `AC${'9'.repeat(32)}` };
    const sig = twilioSignature(URL_SIGNED, other);
    expect(verifyTwilio(form(other, URL_SIGNED, sig), [TWILIO_TOKEN], TWILIO_SID)).toMatchObject({
      code: 'account_mismatch',
    });
  });

  it('refuses a correctly signed webhook that names no account, or names one twice', () => {
    const { AccountSid: _sid, ...noAccount } = params;
    const sig = twilioSignature(URL_SIGNED, noAccount);
    expect(verifyTwilio(form(noAccount, URL_SIGNED, sig), [TWILIO_TOKEN], TWILIO_SID)).toMatchObject({
      ok: false,
      code: 'account_mismatch',
      reason: 'the webhook carries no AccountSid',
    });
    const twice = { ...params, AccountSid: [TWILIO_SID, TWILIO_SID] };
    const sig2 = twilioSignature(URL_SIGNED, twice);
    expect(verifyTwilio(form(twice, URL_SIGNED, sig2), [TWILIO_TOKEN], TWILIO_SID)).toMatchObject({
      code: 'account_mismatch',
    });
  });

  it('verifies a form webhook over its parameters even when its URL holds "bodySHA256=" elsewhere', () => {
    for (const url of [
      `${URL_SIGNED}?next=${encodeURIComponent('https://x.example/?bodySHA256=')}abc`,
      `${URL_SIGNED}?note=xbodySHA256=${'0'.repeat(64)}`,
      `${URL_SIGNED}/bodySHA256=${'0'.repeat(64)}`,
      `${URL_SIGNED}?bodySHA256=${'0'.repeat(64)}`,
    ]) {
      const sig = twilioSignature(url, params);
      expect(verifyTwilio(form(params, url, sig), [TWILIO_TOKEN], TWILIO_SID), url).toMatchObject({
        ok: true,
      });
    }
  });

  it('never takes a form body on a signature over the URL alone, whatever bodySHA256 says', () => {
    const body = formBody(params);
    const url = `${URL_SIGNED}?bodySHA256=${twilio.getExpectedBodyHash(body)}`;
    // What a JSON webhook's signature covers: the URL only.
    const sig = twilio.getExpectedTwilioSignature(TWILIO_TOKEN, url, {});
    expect(verifyTwilio(form(params, url, sig), [TWILIO_TOKEN], TWILIO_SID)).toMatchObject({
      ok: false,
      code: 'signature_invalid',
    });
  });

  it('takes bodySHA256 only from one query parameter of exactly that name', () => {
    const hash = 'ab'.repeat(32);
    expect(bodyHashParameter(`https://h.example/webhooks?a=1&bodySHA256=${hash}`)).toBe(hash);
    expect(bodyHashParameter(`https://h.example/webhooks?bodySHA256=${hash}#frag`)).toBe(hash);
    expect(bodyHashParameter(`https://h.example/webhooks/bodySHA256=${hash}`)).toBeNull();
    expect(bodyHashParameter(`https://h.example/webhooks?x=bodySHA256=${hash}`)).toBeNull();
    expect(bodyHashParameter(`https://h.example/webhooks?xbodySHA256=${hash}`)).toBeNull();
    expect(bodyHashParameter(`https://h.example/webhooks?bodySHA%32%35%36=${hash}`)).toBeNull();
    expect(bodyHashParameter(`https://h.example/webhooks?bodySHA256=${hash}&bodySHA256=${hash}`)).toBeNull();
    expect(bodyHashParameter(`https://h.example/webhooks?bodySHA256=xyz`)).toBeNull();
  });

  it('verifies JSON webhooks through the bodySHA256 query parameter', () => {
    const body = JSON.stringify({ event: 'x', value: 1 });
    const url = `${URL_SIGNED}?bodySHA256=${twilio.getExpectedBodyHash(body)}`;
    const sig = twilio.getExpectedTwilioSignature(TWILIO_TOKEN, url, {});
    const req = (b: string) =>
      new RawWebhook({
        method: 'POST',
        url,
        headers: { 'x-twilio-signature': sig },
        body: Buffer.from(b),
        contentType: 'json',
        receivedAt: 0,
      });
    expect(verifyTwilio(req(body), [TWILIO_TOKEN], TWILIO_SID).ok).toBe(true);
    expect(verifyTwilio(req(body.replace('1', '2')), [TWILIO_TOKEN], TWILIO_SID).ok).toBe(false);
    // The hash must be the request's own parameter: here "bodySHA256=" is only inside another parameter's value.
    const elsewhere = `${URL_SIGNED}?ref=bodySHA256=${twilio.getExpectedBodyHash(body)}`;
    const json = new RawWebhook({
      method: 'POST',
      url: elsewhere,
      headers: { 'x-twilio-signature': twilio.getExpectedTwilioSignature(TWILIO_TOKEN, elsewhere, {}) },
      body: Buffer.from(body),
      contentType: 'json',
      receivedAt: 0,
    });
    expect(verifyTwilio(json, [TWILIO_TOKEN], TWILIO_SID)).toMatchObject({ code: 'signature_invalid' });
  });
});

describe('Twilio detection', () => {
  it('detects by header, then by the form shape', () => {
    expect(twilioDetector.detect(form(twilioInbound(), URL_SIGNED, 'sig'))).toBe(true);
    expect(twilioDetector.detect(form(twilioInbound()))).toBe(true);
    expect(twilioDetector.detect(form({ hello: 'world' }))).toBe(false);
  });
});

describe('Twilio normalization', () => {
  it('turns an inbound SMS into a canonical message', () => {
    const params = twilioInbound({ Body: 'Hi there', NumSegments: '1' });
    expect(parseTwilio(form(params))).toEqual([
      {
        kind: 'inbound_message',
        dedupeKey: `twilio:${params.MessageSid}:received`,
        provider: 'twilio',
        providerMessageId: params.MessageSid,
        providerStatus: 'received',
        channel: 'sms',
        from: '+14155550123',
        to: '+14155550100',
        cc: [],
        body: 'Hi there',
        media: [],
        segments: 1,
        encoding: 'GSM-7',
        occurredAt: 1_700_000_000_000,
      },
    ]);
  });

  it('takes a webhook with only the documented incoming-message parameters (no SmsStatus) as an inbound message', () => {
    // https://www.twilio.com/docs/messaging/guides/webhook-request: request, media and geographic parameters.
    const sid = `SM${'5'.repeat(32)}`;
    const documented = {
      MessageSid: sid,
      SmsSid: sid,
      SmsMessageSid: sid,
      AccountSid: TWILIO_SID,
      MessagingServiceSid: `MG${'6'.repeat(32)}`,
      From: '+14017122661',
      To: '+15558675310',
      Body: "Ahoy! Let's build something amazing.",
      NumMedia: '1',
      NumSegments: '1',
      MediaContentType0: 'image/jpeg',
      MediaUrl0: `https://api.twilio.com/2010-04-01/Accounts/${TWILIO_SID}/Messages/${sid}/Media/ME1`,
      FromCity: 'SAN FRANCISCO',
      FromState: 'CA',
      FromZip: '94103',
      FromCountry: 'US',
      ToCity: 'SAUSALITO',
      ToState: 'CA',
      ToZip: '94965',
      ToCountry: 'US',
    };
    const req = form(documented, URL_SIGNED, twilioSignature(URL_SIGNED, documented));
    expect(verifyTwilio(req, [TWILIO_TOKEN], TWILIO_SID)).toMatchObject({ ok: true });
    expect(parseTwilio(req)).toEqual([
      expect.objectContaining({
        kind: 'inbound_message',
        dedupeKey: `twilio:${sid}:received`,
        providerStatus: 'received',
        channel: 'mms',
        from: '+14017122661',
        to: '+15558675310',
        body: "Ahoy! Let's build something amazing.",
      }),
    ]);
  });

  it('keeps every media URL and content type of an MMS', () => {
    const params = twilioInbound({
      NumMedia: '2',
      MediaUrl0: 'https://api.twilio.com/media/ME1',
      MediaContentType0: 'image/jpeg',
      MediaUrl1: 'https://api.twilio.com/media/ME2',
      MediaContentType1: 'video/mp4',
      Body: '',
    });
    const [event] = parseTwilio(form(params));
    expect(event).toMatchObject({
      channel: 'mms',
      media: [
        { url: 'https://api.twilio.com/media/ME1', contentType: 'image/jpeg' },
        { url: 'https://api.twilio.com/media/ME2', contentType: 'video/mp4' },
      ],
      encoding: null,
    });
  });

  it('recognizes WhatsApp and strips the whatsapp: prefix', () => {
    const params = twilioInbound({
      From: 'whatsapp:+14155550123',
      To: 'whatsapp:+14155550100',
      ProfileName: 'Ada',
      WaId: '14155550123',
    });
    expect(parseTwilio(form(params))[0]).toMatchObject({
      channel: 'whatsapp',
      from: '+14155550123',
      to: '+14155550100',
    });
  });

  it('turns a status callback into a status event with the error code', () => {
    const params = twilioStatus('SM123', 'undelivered', {
      ErrorCode: '30003',
      ErrorMessage: 'Unreachable destination handset',
      RawDlrDoneDate: '2401152132',
    });
    expect(parseTwilio(form(params))).toEqual([
      expect.objectContaining({
        kind: 'status',
        dedupeKey: 'twilio:SM123:undelivered',
        status: 'undelivered',
        providerStatus: 'undelivered',
        errorCode: '30003',
        errorMessage: 'Unreachable destination handset',
        // When it reached us; the carrier's zone-less minute is kept as it wrote it.
        occurredAt: 1_700_000_000_000,
        providerTime: '2401152132',
        recipientOptedOut: false,
      }),
    ]);
  });

  it('reads SmsStatus as the status when MessageStatus is absent (legacy callbacks)', () => {
    const { MessageStatus: _m, ...legacy } = twilioStatus('SM7', 'delivered');
    expect(parseTwilio(form(legacy))).toEqual([
      expect.objectContaining({
        kind: 'status',
        dedupeKey: 'twilio:SM7:delivered',
        status: 'delivered',
        providerStatus: 'delivered',
      }),
    ]);
    // `received` and `receiving` (or no status at all) still make an inbound message.
    for (const smsStatus of ['received', 'receiving']) {
      expect(parseTwilio(form(twilioInbound({ SmsStatus: smsStatus })))[0]).toMatchObject({
        kind: 'inbound_message',
        providerStatus: smsStatus,
      });
    }
  });

  it('flags a failure receipt with 21610 as the recipient opting out', () => {
    const params = twilioStatus('SM9', 'failed', { ErrorCode: '21610', ErrorMessage: 'unsubscribed' });
    expect(parseTwilio(form(params))[0]).toMatchObject({
      status: 'failed',
      recipientOptedOut: true,
      from: '+14155550100',
      to: '+14155550123',
    });
  });

  it('keeps an unknown status as the raw word with no canonical status', () => {
    expect(parseTwilio(form(twilioStatus('SM1', 'teleported')))[0]).toMatchObject({
      status: null,
      providerStatus: 'teleported',
    });
  });

  it('answers invalid_payload for missing required fields and a NumMedia without URLs', () => {
    const { MessageSid: _a, SmsSid: _b, SmsMessageSid: _c, ...noSid } = twilioInbound();
    expect(() => parseTwilio(form(noSid))).toThrow(/MessageSid/);
    expect(() => parseTwilio(form(twilioInbound({ NumMedia: '1' })))).toThrow(/MediaUrl0/);
    expect(() => parseTwilio(form(twilioInbound({ NumMedia: '500' })))).toThrow(/NumMedia/);
  });

  it('maps every documented status', () => {
    const table: Record<string, string> = {
      accepted: 'queued',
      scheduled: 'queued',
      queued: 'queued',
      sending: 'sending',
      sent: 'sent',
      delivered: 'delivered',
      undelivered: 'undelivered',
      failed: 'failed',
      receiving: 'received',
      received: 'received',
      read: 'read',
      partially_delivered: 'undelivered',
      canceled: 'canceled',
    };
    for (const [raw, canonical] of Object.entries(table)) expect(mapTwilioStatus(raw)).toBe(canonical);
    expect(mapTwilioStatus('toString')).toBeNull();
  });
});

describe('TwiML', () => {
  it('acknowledges with an empty Response and escapes a reply', () => {
    expect(twimlReply()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    const xml = twimlReply({ body: 'Fish & <chips>', mediaUrls: ['https://example.com/a.png'] });
    expect(xml).toContain('<Body>Fish &amp; &lt;chips&gt;</Body>');
    expect(xml).toContain('<Media>https://example.com/a.png</Media>');
  });
});
