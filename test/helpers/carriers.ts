import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import twilio from 'twilio';

// Test credentials in the shapes the carriers issue them.
export const TWILIO_SID = `AC${'1f'.repeat(16)}`;
export const TWILIO_TOKEN = 'a1'.repeat(16);
export const TWILIO_TOKEN_SECONDARY = 'b2'.repeat(16);

/** A Telnyx signing key pair. Signing uses tweetnacl: an implementation independent of the gateway's verifier. */
export function telnyxKeys(seed?: Uint8Array) {
  const pair = seed ? nacl.sign.keyPair.fromSeed(seed) : nacl.sign.keyPair();
  return {
    publicKey: Buffer.from(pair.publicKey).toString('base64'),
    sign(body: string | Buffer, timestamp: number | string): string {
      const signed = Buffer.concat([Buffer.from(`${timestamp}|`), Buffer.from(body)]);
      return Buffer.from(nacl.sign.detached(signed, pair.secretKey)).toString('base64');
    },
  };
}

export type TelnyxKeys = ReturnType<typeof telnyxKeys>;

/** A Telnyx webhook request: the JSON body and its signature headers, signed now unless told otherwise. */
export function signedTelnyx(keys: TelnyxKeys, body: unknown, timestamp = Math.floor(Date.now() / 1000)) {
  const raw = JSON.stringify(body);
  return {
    headers: {
      'content-type': 'application/json',
      'telnyx-signature-ed25519': keys.sign(raw, timestamp),
      'telnyx-timestamp': String(timestamp),
    },
    body: raw,
  };
}

/** The signature Twilio puts in X-Twilio-Signature, computed by the official SDK. */
export function twilioSignature(
  url: string,
  params: Record<string, string | string[]>,
  token = TWILIO_TOKEN,
): string {
  return twilio.getExpectedTwilioSignature(token, url, params);
}

export const unique = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`;

export function formBody(params: Record<string, string | string[]>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const value of [v].flat()) search.append(k, value);
  return search.toString();
}

export function twilioInbound(overrides: Record<string, string> = {}): Record<string, string> {
  const sid = overrides.MessageSid ?? unique('SM');
  return {
    ToCountry: 'US',
    ToState: 'CA',
    SmsMessageSid: sid,
    NumMedia: '0',
    ToCity: 'SAN FRANCISCO',
    FromZip: '94105',
    SmsSid: sid,
    FromState: 'CA',
    SmsStatus: 'received',
    FromCity: 'SAN FRANCISCO',
    Body: 'Hello from Twilio',
    FromCountry: 'US',
    To: '+14155550100',
    ToZip: '94105',
    NumSegments: '1',
    MessageSid: sid,
    AccountSid: TWILIO_SID,
    From: '+14155550123',
    ApiVersion: '2010-04-01',
    ...overrides,
  };
}

export function twilioStatus(sid: string, status: string, overrides: Record<string, string> = {}) {
  return {
    MessageSid: sid,
    SmsSid: sid,
    MessageStatus: status,
    SmsStatus: status,
    AccountSid: TWILIO_SID,
    From: '+14155550100',
    To: '+14155550123',
    ApiVersion: '2010-04-01',
    ...overrides,
  };
}

/** `message.received` as in the Telnyx messaging documentation (shared/PROVIDERS.md). */
export function telnyxReceived(
  overrides: {
    id?: string;
    messageId?: string;
    text?: string;
    to?: string[];
    media?: unknown[];
    type?: string;
  } = {},
) {
  return {
    data: {
      event_type: 'message.received',
      id: overrides.id ?? crypto.randomUUID(),
      occurred_at: '2024-01-15T20:16:07.588+00:00',
      payload: {
        completed_at: null,
        cost: { amount: '0.0000', currency: 'USD' },
        direction: 'inbound',
        encoding: 'GSM-7',
        errors: [],
        from: { carrier: 'T-Mobile USA', line_type: 'long_code', phone_number: '+13125550001' },
        id: overrides.messageId ?? crypto.randomUUID(),
        media: overrides.media ?? [],
        messaging_profile_id: '740572b6-099c-44a1-89b9-6c92163bc68d',
        organization_id: '47a530f8-4362-4526-829b-bcee17fd9f7a',
        parts: 1,
        received_at: '2024-01-15T20:16:07.503+00:00',
        record_type: 'message',
        sent_at: null,
        tags: [],
        text: overrides.text ?? 'Hello from Telnyx!',
        to: (overrides.to ?? ['+17735550002']).map((phone_number) => ({
          carrier: 'Telnyx',
          line_type: 'Wireless',
          phone_number,
          status: 'webhook_delivered',
        })),
        type: overrides.type ?? 'SMS',
        valid_until: null,
        webhook_failover_url: null,
        webhook_url: 'https://example.com/webhooks',
      },
      record_type: 'event',
    },
    meta: { attempt: 1, delivered_to: 'https://example.com/webhooks' },
  };
}

/** `message.sent` / `message.finalized` for an outbound message, one `to[]` entry per recipient. */
export function telnyxStatusEvent(
  eventType: 'message.sent' | 'message.finalized',
  messageId: string,
  recipients: { phone: string; status: string }[],
  errors: { code: string | number; title: string; detail?: string }[] = [],
  occurredAt = '2024-01-15T21:32:14.148+00:00',
) {
  return {
    data: {
      event_type: eventType,
      id: crypto.randomUUID(),
      occurred_at: occurredAt,
      payload: {
        completed_at: occurredAt,
        direction: 'outbound',
        encoding: 'GSM-7',
        errors,
        from: { carrier: 'Telnyx', line_type: 'Wireless', phone_number: '+13125550001' },
        id: messageId,
        media: [],
        parts: 1,
        record_type: 'message',
        text: 'Hello there!',
        to: recipients.map((r) => ({
          carrier: 'T-MOBILE USA, INC.',
          line_type: 'Wireless',
          phone_number: r.phone,
          status: r.status,
        })),
        type: 'SMS',
      },
      record_type: 'event',
    },
    meta: { attempt: '1', delivered_to: 'https://example.com/webhooks' },
  };
}
