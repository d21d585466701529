import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { telnyxSegments } from '../providers/telnyx/encoding.js';
import { telnyxTime } from './ids.js';
import { TELNYX_ORGANIZATION_ID } from './telnyx-api.js';
import { contentTypeOf } from './twilio-webhooks.js';
import type { WebhookRequest } from './webhook-sender.js';

// PKCS#8 DER prefix of an Ed25519 private key given by its 32-byte seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Signs webhooks as Telnyx does: base64 Ed25519 over `<timestamp>|<raw body>`. The key pair comes from tweetnacl's
 * keyPair.fromSeed; signing goes through node:crypto with the same seed, because Ed25519 is deterministic (the same
 * bytes as nacl.sign.detached, which a test checks) and OpenSSL is far faster than pure-JS tweetnacl. Webhooks are
 * signed in the callback form, on libuv's thread pool: even OpenSSL's Ed25519 costs tens of microseconds, which
 * the event loop serving the send path should not pay twice per message.
 */
export class TelnyxSigner {
  readonly publicKey: string;
  readonly #key: KeyObject;

  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new TypeError('the Telnyx signing seed must be 32 bytes');
    this.publicKey = Buffer.from(nacl.sign.keyPair.fromSeed(seed).publicKey).toString('base64');
    this.#key = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(seed)]),
      format: 'der',
      type: 'pkcs8',
    });
  }

  sign(body: string, timestamp: number): string {
    return sign(null, Buffer.from(`${timestamp}|${body}`), this.#key).toString('base64');
  }

  /** The same signature, computed off the event loop. */
  signAsync(body: string, timestamp: number): Promise<string> {
    return new Promise((resolve, reject) => {
      sign(null, Buffer.from(`${timestamp}|${body}`), this.#key, (err, signature) => {
        if (err) reject(err);
        else resolve(signature.toString('base64'));
      });
    });
  }

  /** A JSON POST with Telnyx's signature headers, timestamped now. */
  async request(url: string, body: string, nowMs: number): Promise<WebhookRequest> {
    const timestamp = Math.floor(nowMs / 1000);
    return {
      url,
      headers: {
        'content-type': 'application/json',
        'telnyx-signature-ed25519': await this.signAsync(body, timestamp),
        'telnyx-timestamp': String(timestamp),
      },
      body,
    };
  }
}

/** The event envelope; `meta` says which attempt this is and where it went. */
export function telnyxEventBody(
  event: { id: string; type: string; occurredAt: number; payload: Record<string, unknown> },
  attempt: number,
  url: string,
): string {
  return JSON.stringify({
    data: {
      event_type: event.type,
      id: event.id,
      occurred_at: telnyxTime(event.occurredAt),
      payload: event.payload,
      record_type: 'event',
    },
    meta: { attempt, delivered_to: url },
  });
}

/**
 * message.received's payload, shaped as Telnyx's documented example. A group MMS lists the other participants in
 * `cc` (our number is `to`), and is an MMS whatever it carries.
 */
export function telnyxInboundPayload(input: {
  id: string;
  from: string;
  to: string;
  cc?: string[];
  body: string;
  mediaUrls: string[];
  messagingProfileId: string | null;
  webhookUrl: string;
  receivedAt: number;
}): Record<string, unknown> {
  const counted = telnyxSegments(input.body, input.from);
  const cc = input.cc ?? [];
  const mms = input.mediaUrls.length > 0 || cc.length > 0;
  return {
    cc: cc.map((number) => ({
      carrier: 'T-Mobile USA',
      line_type: 'Wireless',
      phone_number: number,
      status: 'webhook_delivered',
    })),
    completed_at: null,
    cost: { amount: '0.0000', currency: 'USD' },
    direction: 'inbound',
    encoding: counted.encoding,
    errors: [],
    from: { carrier: 'T-Mobile USA', line_type: 'long_code', phone_number: input.from },
    id: input.id,
    media: input.mediaUrls.map((url) => ({
      url,
      content_type: contentTypeOf(url),
      sha256: null,
      size: null,
    })),
    messaging_profile_id: input.messagingProfileId,
    organization_id: TELNYX_ORGANIZATION_ID,
    parts: mms ? 1 : Math.max(1, counted.segments),
    received_at: telnyxTime(input.receivedAt),
    record_type: 'message',
    sent_at: null,
    tags: [],
    text: input.body,
    to: [{ carrier: 'Telnyx', line_type: 'Wireless', phone_number: input.to, status: 'webhook_delivered' }],
    type: mms ? 'MMS' : 'SMS',
    valid_until: null,
    webhook_failover_url: null,
    webhook_url: input.webhookUrl,
  };
}
