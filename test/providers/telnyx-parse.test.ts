import { describe, expect, it } from 'vitest';
import { RawWebhook } from '../../src/core/webhook.js';
import { telnyxDetector } from '../../src/providers/telnyx/detect.js';
import { parseTelnyx } from '../../src/providers/telnyx/parse.js';
import { mapTelnyxStatus } from '../../src/providers/telnyx/statuses.js';
import { telnyxReceived, telnyxStatusEvent } from '../helpers/carriers.js';

function json(body: unknown, headers: Record<string, string> = {}): RawWebhook {
  return new RawWebhook({
    method: 'POST',
    url: 'https://sms.example.com/webhooks',
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    contentType: 'json',
    receivedAt: 1_700_000_000_000,
  });
}

// Verbatim from the Telnyx messaging documentation (shared/PROVIDERS.md).
const DOC_RECEIVED = `{"data":{"event_type":"message.received","id":"b301ed3f-1490-491f-995f-6e64e69674d4","occurred_at":"2024-01-15T20:16:07.588+00:00","payload":{"completed_at":null,"cost":{"amount":"0.0000","currency":"USD"},"direction":"inbound","encoding":"GSM-7","errors":[],"from":{"carrier":"T-Mobile USA","line_type":"long_code","phone_number":"+13125550001"},"id":"84cca175-9755-4859-b67f-4730d7f58aa3","media":[],"messaging_profile_id":"740572b6-099c-44a1-89b9-6c92163bc68d","organization_id":"47a530f8-4362-4526-829b-bcee17fd9f7a","parts":1,"received_at":"2024-01-15T20:16:07.503+00:00","record_type":"message","sent_at":null,"tags":[],"text":"Hello from Telnyx!","to":[{"carrier":"Telnyx","line_type":"Wireless","phone_number":"+17735550002","status":"webhook_delivered"}],"type":"SMS","valid_until":null,"webhook_failover_url":null,"webhook_url":"https://example.com/webhooks"},"record_type":"event"},"meta":{"attempt":1,"delivered_to":"https://example.com/webhooks"}}`;
const DOC_FINALIZED = `{"data":{"event_type":"message.finalized","id":"4ee8c3a6-4995-4309-a3c6-38e3db9ea4be","occurred_at":"2024-01-15T21:32:14.148+00:00","payload":{"completed_at":"2024-01-15T21:32:14.148+00:00","cost":{"amount":"0.0051","currency":"USD"},"direction":"outbound","encoding":"GSM-7","errors":[],"from":{"carrier":"Telnyx","line_type":"Wireless","phone_number":"+13125550001"},"id":"ac012cbf-5e09-46af-a69a-7c0e2d90993c","media":[],"messaging_profile_id":"83d2343b-553f-4c5f-b8c8-fd27004f94bf","parts":1,"received_at":"2024-01-15T21:32:13.552+00:00","record_type":"message","sent_at":"2024-01-15T21:32:13.596+00:00","tags":["tag-a","tag-b"],"text":"Hello there!","to":[{"carrier":"T-MOBILE USA, INC.","line_type":"Wireless","phone_number":"+13125550002","status":"delivered"}],"type":"SMS","valid_until":"2024-01-15T22:32:13.552+00:00","webhook_url":"https://example.com/webhooks"},"record_type":"event"},"meta":{"attempt":1,"delivered_to":"https://example.com/webhooks"}}`;

describe('Telnyx normalization', () => {
  it('turns the documented message.received into a canonical inbound message', () => {
    expect(parseTelnyx(json(DOC_RECEIVED))).toEqual([
      {
        kind: 'inbound_message',
        dedupeKey: 'telnyx:b301ed3f-1490-491f-995f-6e64e69674d4',
        provider: 'telnyx',
        providerMessageId: '84cca175-9755-4859-b67f-4730d7f58aa3',
        providerStatus: 'webhook_delivered',
        channel: 'sms',
        from: '+13125550001',
        to: '+17735550002',
        cc: [],
        body: 'Hello from Telnyx!',
        media: [],
        segments: 1,
        encoding: 'GSM-7',
        occurredAt: Date.parse('2024-01-15T20:16:07.588+00:00'),
      },
    ]);
  });

  it('turns the documented message.finalized into a delivered status event', () => {
    expect(parseTelnyx(json(DOC_FINALIZED))).toEqual([
      expect.objectContaining({
        kind: 'status',
        dedupeKey: 'telnyx:4ee8c3a6-4995-4309-a3c6-38e3db9ea4be:+13125550002',
        providerMessageId: 'ac012cbf-5e09-46af-a69a-7c0e2d90993c',
        status: 'delivered',
        providerStatus: 'delivered',
        to: '+13125550002',
        from: '+13125550001',
        errorCode: null,
      }),
    ]);
  });

  it('keeps every media URL and content type of an MMS, and group recipients in cc', () => {
    const body = telnyxReceived({
      type: 'MMS',
      to: ['+17735550002', '+17735550003', '+17735550004'],
      media: [
        { url: 'https://media.telnyx.com/a.png', content_type: 'image/png', sha256: 'x', size: 102400 },
        { url: 'https://media.telnyx.com/b.mp4', content_type: 'video/mp4', sha256: 'y', size: 2048 },
      ],
    });
    expect(parseTelnyx(json(body))[0]).toMatchObject({
      channel: 'mms',
      to: '+17735550002',
      cc: ['+17735550003', '+17735550004'],
      media: [
        { url: 'https://media.telnyx.com/a.png', contentType: 'image/png' },
        { url: 'https://media.telnyx.com/b.mp4', contentType: 'video/mp4' },
      ],
    });
  });

  it('reads the other participants of a group MMS from cc, never listing our number or the sender', () => {
    const body = telnyxReceived({ type: 'SMS', text: 'Dinner at 8?', to: ['+17735550002'] });
    const cc = ['+17735550003', '+1 773 555 0004', '+17735550002', '+13125550001', '+17735550003'];
    Object.assign(body.data.payload, {
      cc: cc.map((phone_number) => ({ phone_number, status: 'webhook_delivered', carrier: 'Telnyx' })),
    });
    expect(parseTelnyx(json(body))[0]).toMatchObject({
      channel: 'mms',
      from: '+13125550001',
      to: '+17735550002',
      cc: ['+17735550003', '+17735550004'],
      body: 'Dinner at 8?',
    });
  });

  it('makes one status event per recipient, each with its own status, and keeps the error', () => {
    const body = telnyxStatusEvent(
      'message.finalized',
      'msg-1',
      [
        { phone: '+13125550002', status: 'delivered' },
        { phone: '+13125550003', status: 'delivery_failed' },
      ],
      [{ code: '40300', title: 'Blocked due to STOP message', detail: 'recipient opted out' }],
    );
    const events = parseTelnyx(json(body));
    expect(events).toHaveLength(2);
    expect(events.map((e) => e.kind === 'status' && [e.to, e.status, e.errorCode])).toEqual([
      ['+13125550002', 'delivered', '40300'],
      ['+13125550003', 'undelivered', '40300'],
    ]);
    expect(new Set(events.map((e) => e.dedupeKey)).size).toBe(2);
    expect(events[0]).toMatchObject({ errorMessage: 'Blocked due to STOP message: recipient opted out' });
  });

  it('accepts numeric error codes and string meta.attempt', () => {
    const body = telnyxStatusEvent(
      'message.sent',
      'm',
      [{ phone: '+13125550002', status: 'sending_failed' }],
      [{ code: 40318, title: 'Queue full' }],
    );
    expect(parseTelnyx(json(body))[0]).toMatchObject({
      status: 'failed',
      errorCode: '40318',
      errorMessage: 'Queue full',
    });
  });

  it('keeps an unknown to[].status as the raw word', () => {
    const body = telnyxStatusEvent('message.sent', 'm', [{ phone: '+13125550002', status: 'beamed' }]);
    expect(parseTelnyx(json(body))[0]).toMatchObject({ status: null, providerStatus: 'beamed' });
  });

  it('returns no events for event types it does not store', () => {
    const body = { data: { event_type: 'call.initiated', id: 'x', record_type: 'event', payload: {} } };
    expect(parseTelnyx(json(body))).toEqual([]);
  });

  it('answers invalid_payload for missing fields', () => {
    const noPayload = { data: { event_type: 'message.received', id: 'x', record_type: 'event' } };
    expect(() => parseTelnyx(json(noPayload))).toThrow(/payload/);
    const noFrom = telnyxReceived();
    (noFrom.data.payload as { from?: unknown }).from = undefined;
    expect(() => parseTelnyx(json(noFrom))).toThrow(/from/);
    expect(() => parseTelnyx(json('[1,2]'))).toThrow(/data/);
  });

  it('maps every documented status', () => {
    const table: Record<string, string> = {
      queued: 'queued',
      sending: 'sending',
      sent: 'sent',
      expired: 'undelivered',
      sending_failed: 'failed',
      delivery_unconfirmed: 'sent',
      delivered: 'delivered',
      delivery_failed: 'undelivered',
      webhook_delivered: 'received',
    };
    for (const [raw, canonical] of Object.entries(table)) expect(mapTelnyxStatus(raw)).toBe(canonical);
    expect(mapTelnyxStatus('__proto__')).toBeNull();
  });
});

describe('Telnyx detection', () => {
  it('detects by header, then by body shape, and never throws on garbage', () => {
    expect(telnyxDetector.detect(json('{}', { 'telnyx-timestamp': '1' }))).toBe(true);
    expect(telnyxDetector.detect(json(DOC_RECEIVED))).toBe(true);
    expect(telnyxDetector.detect(json({ data: { event_type: 'x' } }))).toBe(false);
    expect(telnyxDetector.detect(json('{not json'))).toBe(false);
  });
});
