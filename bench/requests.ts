import { generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import twilio from 'twilio';

/** One webhook as a carrier would send it: unique ids, real signature, ready to put on the wire. */
export interface SignedRequest {
  /** The provider message id the gateway stores (messages.provider_message_id), to check the row exists. */
  readonly id: string;
  readonly headers: Readonly<Record<string, string>>;
  /** A Buffer rather than a string: pooled bodies then live off the V8 heap and cost the client no GC work. */
  readonly body: Buffer;
  /** Epoch ms after which the request must not be sent (its signed timestamp would be too old). */
  readonly expiresAt: number;
}

export interface RequestFactory {
  readonly provider: 'twilio' | 'telnyx';
  make(): SignedRequest;
}

export interface Credentials {
  twilioAccountSid: string;
  twilioAuthToken: string;
  telnyxPrivateKey: KeyObject;
  /** Base64 of the raw 32-byte Ed25519 public key: the format of TELNYX_PUBLIC_KEY. */
  telnyxPublicKeyBase64: string;
}

/** Fresh random credentials per run: nothing real is ever used or needed. */
export function makeCredentials(): Credentials {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  // The JWK `x` member is exactly the raw 32-byte public key, base64url-encoded.
  const x = publicKey.export({ format: 'jwk' }).x;
  if (x === undefined) throw new Error('Ed25519 JWK export has no x member');
  return {
    twilioAccountSid: `AC${randomBytes(16).toString('hex')}`,
    twilioAuthToken: randomBytes(16).toString('hex'),
    telnyxPrivateKey: privateKey,
    telnyxPublicKeyBase64: Buffer.from(x, 'base64url').toString('base64'),
  };
}

// A handful of senders writing to one business number, as real inbound traffic looks.
const OUR_NUMBER = '+14155550100';
const SENDERS = [
  { number: '+14155550123', city: 'SAN FRANCISCO', state: 'CA', zip: '94105' },
  { number: '+12125550187', city: 'NEW YORK', state: 'NY', zip: '10001' },
  { number: '+13125550142', city: 'CHICAGO', state: 'IL', zip: '60601' },
  { number: '+15125550166', city: 'AUSTIN', state: 'TX', zip: '78701' },
] as const;
const BODIES = [
  'Hi, is my order ready for pickup?',
  'Running 10 minutes late, sorry!',
  'Yes, Thursday at 3pm works for me.',
  'Can you send me the invoice again? The link in the last email did not open on my phone.',
  'Thanks',
] as const;

type Sender = { number: string; city: string; state: string; zip: string };

/**
 * `count` senders: the four above, then made-up numbers. Each sender is a conversation, and events reach an app in
 * order per conversation (one at a time), so BENCH_CONVERSATIONS shapes what BENCH_APP_EVENTS measures.
 */
export function senders(count: number): readonly Sender[] {
  const extra = Array.from({ length: Math.max(0, count - SENDERS.length) }, (_, i) => ({
    number: `+1415556${String(i).padStart(4, '0')}`,
    city: 'SAN FRANCISCO',
    state: 'CA',
    zip: '94105',
  }));
  return [...SENDERS.slice(0, count), ...extra];
}

/** Picks deterministically from a list by a counter, so every run sends the same mix. */
function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length] as T;
}

/**
 * Twilio inbound SMS webhooks (SmsStatus=received) with the parameters Twilio really sends, signed with the SDK's
 * own getExpectedTwilioSignature over `url`, which must be the URL the gateway reconstructs (PUBLIC_BASE_URL +
 * path), or every request would be a 403.
 */
export function twilioFactory(
  credentials: Credentials,
  url: string,
  from: readonly Sender[] = SENDERS,
): RequestFactory {
  const messagingServiceSid = `MG${randomBytes(16).toString('hex')}`;
  let n = 0;
  return {
    provider: 'twilio',
    make(): SignedRequest {
      n++;
      const sid = `SM${randomBytes(16).toString('hex')}`;
      const sender = pick(from, n);
      const params: Record<string, string> = {
        ToCountry: 'US',
        ToState: 'CA',
        SmsMessageSid: sid,
        NumMedia: '0',
        ToCity: 'SAN FRANCISCO',
        FromZip: sender.zip,
        SmsSid: sid,
        FromState: sender.state,
        SmsStatus: 'received',
        FromCity: sender.city,
        Body: `${pick(BODIES, n)} (#${n})`,
        FromCountry: 'US',
        To: OUR_NUMBER,
        MessagingServiceSid: messagingServiceSid,
        ToZip: '94105',
        NumSegments: '1',
        MessageSid: sid,
        AccountSid: credentials.twilioAccountSid,
        From: sender.number,
        ApiVersion: '2010-04-01',
      };
      return {
        id: sid,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilio.getExpectedTwilioSignature(credentials.twilioAuthToken, url, params),
          'i-twilio-idempotency-token': randomUUID(),
          'user-agent': 'TwilioProxy/1.1',
          accept: '*/*',
        },
        // URLSearchParams encodes like Twilio does (spaces as '+', '+' as %2B).
        body: Buffer.from(new URLSearchParams(params).toString()),
        expiresAt: Number.POSITIVE_INFINITY,
      };
    },
  };
}

/**
 * The gateway rejects Telnyx timestamps more than 300 s from now. A pooled request older than this is dropped and
 * a fresh one signed instead, which leaves a wide margin for clock reads and long runs.
 */
const TELNYX_MAX_AGE_MS = 120_000;

/**
 * Telnyx `message.received` webhooks shaped like the documented example (see /work/shared/PROVIDERS.md), with a
 * unique event id (data.id) and message id (data.payload.id), signed with Ed25519 over `<timestamp>|<body>`.
 */
export function telnyxFactory(credentials: Credentials, from: readonly Sender[] = SENDERS): RequestFactory {
  const messagingProfileId = randomUUID();
  const organizationId = randomUUID();
  let n = 0;
  return {
    provider: 'telnyx',
    make(): SignedRequest {
      n++;
      const sender = pick(from, n);
      const messageId = randomUUID();
      const now = new Date();
      const iso = now.toISOString();
      const body = JSON.stringify({
        data: {
          event_type: 'message.received',
          id: randomUUID(),
          occurred_at: iso,
          payload: {
            completed_at: null,
            cost: { amount: '0.0000', currency: 'USD' },
            direction: 'inbound',
            encoding: 'GSM-7',
            errors: [],
            from: { carrier: 'T-Mobile USA', line_type: 'long_code', phone_number: sender.number },
            id: messageId,
            media: [],
            messaging_profile_id: messagingProfileId,
            organization_id: organizationId,
            parts: 1,
            received_at: iso,
            record_type: 'message',
            sent_at: null,
            tags: [],
            text: `${pick(BODIES, n)} (#${n})`,
            to: [
              {
                carrier: 'Telnyx',
                line_type: 'Wireless',
                phone_number: OUR_NUMBER,
                status: 'webhook_delivered',
              },
            ],
            type: 'SMS',
            valid_until: null,
            webhook_failover_url: null,
            webhook_url: 'https://sms.example.com/webhooks',
          },
          record_type: 'event',
        },
        meta: { attempt: 1, delivered_to: 'https://sms.example.com/webhooks' },
      });
      const bytes = Buffer.from(body);
      const timestamp = String(Math.floor(now.getTime() / 1000));
      const signature = sign(
        null,
        Buffer.concat([Buffer.from(`${timestamp}|`), bytes]),
        credentials.telnyxPrivateKey,
      );
      return {
        id: messageId,
        headers: {
          'content-type': 'application/json',
          'telnyx-signature-ed25519': signature.toString('base64'),
          'telnyx-timestamp': timestamp,
          'user-agent': 'telnyx-webhooks',
          accept: '*/*',
        },
        body: bytes,
        expiresAt: now.getTime() + TELNYX_MAX_AGE_MS,
      };
    },
  };
}

/**
 * Signed requests for a load run, generated BEFORE the measured window.
 *
 * Why a pool: on this 2-core machine the load generator and the server share the CPU, so whatever the client
 * spends per request is taken from the server. Signing on the fly costs ~18 µs per Twilio request and ~55 µs per
 * Telnyx request (Ed25519); pre-signing makes that cost zero inside every measured run, for the baseline and both
 * gateway runs alike. If the pool runs dry (or goes stale) requests are signed on the fly and counted, so a
 * report can say so.
 */
export class RequestFeed {
  readonly factory: RequestFactory;
  #pool: SignedRequest[] = [];
  #next = 0;
  /** Requests signed during the run because the pool was exhausted or stale. */
  signedOnTheFly = 0;

  constructor(factory: RequestFactory) {
    this.factory = factory;
  }

  /** Replaces the pool with `count` fresh requests (call outside any measured window). */
  prefill(count: number): void {
    this.#pool = Array.from({ length: count }, () => this.factory.make());
    this.#next = 0;
    this.signedOnTheFly = 0;
  }

  take(): SignedRequest {
    const pooled = this.#pool[this.#next];
    if (pooled !== undefined) {
      if (pooled.expiresAt > Date.now()) {
        this.#next++;
        return pooled;
      }
      // Pooled in order, so once one is stale all the rest are too: drop them (keeping the count).
      this.#pool = [];
      this.#next = 0;
    }
    this.signedOnTheFly++;
    return this.factory.make();
  }
}
