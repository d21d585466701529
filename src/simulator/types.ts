// The simulator's public types. They live here, apart from simulator.ts, so the carrier modules can use them without
// importing the class that wires them together; simulator.ts re-exports every one of them.

import type { Encoding } from '../core/message.js';

export type SimProvider = 'twilio' | 'telnyx';

/** One answer forced on the next send request; a script is consumed one entry per request, in order. */
export interface ScriptedFault {
  status: number;
  /** The carrier's error code; defaults to the carrier's code for `status` (see carrier-errors.ts). */
  code?: string;
  /** Sent as Retry-After (Twilio sends none of its own; Telnyx defaults to 1 on a 429). */
  retryAfterSeconds?: number;
}

export interface ProviderFaults {
  /**
   * Each sender's throughput in message SEGMENTS per second (carriers meter segments; MMS = 1), as the carriers
   * apply it: a sender (a From number; a Twilio Messaging Service's pool) may send one second's worth at once, and
   * what comes faster waits in its queue, first in, first out, and is sent (status callbacks and all) when its turn
   * comes. Nothing is refused for rate until the queue is full (see maxQueueSeconds). null = unlimited.
   */
  mps: number | null;
  /**
   * Seconds of sending a sender's queue holds; null = the carrier's own (Twilio 36000, Telnyx 14400). A message that
   * would wait longer: Twilio refuses it with 21611 (or, through a Messaging Service, accepts it and fails it with
   * 30001 in the status callback); Telnyx refuses it with 429 / 40318.
   */
  maxQueueSeconds: number | null;
  /**
   * How long a queued message may wait before it fails instead of going; null = the carrier's own (Twilio 36000,
   * or a request's ValidityPeriod; Telnyx 3600, its valid_until). Past it: Twilio `failed` 30036, Telnyx
   * `sending_failed` 40014, reported when the time is up.
   */
  validitySeconds: number | null;
  /**
   * The account's API request rate: send requests per second, whatever their size; a bucket holding one second's
   * worth. null = unlimited. Over it: 429 as the carrier answers it (Twilio 20429; Telnyx 10011).
   */
  apiRequestsPerSecond: number | null;
  /**
   * Twilio's RawDlrDoneDate is the receiving carrier's local time, YYMMDDhhmm with no zone: the offset from UTC, in
   * minutes, of the carrier the simulator plays. Default -300 (a US carrier on UTC-5), so a reader that takes it
   * for UTC is 5 hours off. Twilio only.
   */
  receiptUtcOffsetMinutes: number;
  /** Added before answering each send request. */
  latencyMs: number;
  /** Fraction (0..1) of send requests answered 500, deterministic from a seeded PRNG. */
  errorRate: number;
  /** Fraction (0..1) of send requests never answered (socket held open until the client gives up or close()). */
  timeoutRate: number;
  /** Every send request answered 503. */
  down: boolean;
  /** Every send request answered 401 with the carrier's authentication error body. */
  authFailure: boolean;
  script: ScriptedFault[];
  /** To-number -> carrier error code answered at send time. */
  recipientErrors: Record<string, string>;
  /** To-number -> error code reported in the FINAL status callback. */
  deliveryFailures: Record<string, string>;
}

export interface SimulatedMessage {
  provider: SimProvider;
  /** Twilio 'SM' + 32 hex ('MM' for a message with media, as Twilio does); Telnyx a UUID. */
  id: string;
  from: string;
  to: string;
  /** Telnyx group MMS: the recipients after the first (Telnyx reports them in `cc`). Absent otherwise. */
  cc?: string[];
  body: string;
  mediaUrls: string[];
  segments: number;
  /** Of the text, as this carrier encodes it; an MMS without text is reported as GSM-7. */
  encoding: Encoding;
  messagingProfileId: string | null;
  messagingServiceSid: string | null;
  /** Twilio StatusCallback / Telnyx webhook_url (else the default webhook URL); null: no status callbacks. */
  statusCallback: string | null;
  /** Telnyx webhook_failover_url: tried once the primary URL has failed every attempt. */
  webhookFailoverUrl: string | null;
  /** Milliseconds since the epoch. */
  acceptedAt: number;
  /**
   * When the carrier hands it on, after its wait in the sender's queue (acceptedAt when it went at once); null when
   * it never will (its queue was full, or it expired waiting).
   */
  departsAt: number | null;
  /** Until when it may wait in the carrier's queue (Telnyx `valid_until`). */
  validUntil: number;
  /**
   * The carrier's own word for where the message is: Twilio queued/accepted, sent, delivered, undelivered, failed;
   * Telnyx queued, sent, delivered, delivery_failed, sending_failed. Advances as status callbacks are sent.
   */
  status: string;
}

export interface SimulatorStats {
  /** Send requests received (every one ends as exactly one of the four below, or is still being answered). */
  requests: number;
  accepted: number;
  /** Answered 429: the API request rate, Telnyx's full queue (40318) or a scripted fault. */
  rateLimited: number;
  /** Answered with any other error status (Twilio's full queue, 21611, among them). */
  errors: number;
  /** Held and never answered. */
  timeouts: number;
  /** Accepted, but sent faster than the sender's rate: they waited in its queue ("queued beyond rate"). */
  queued: number;
  /** Refused (21611, 40318) or failed (30001) because the sender's queue was full. */
  queueFull: number;
  /** Accepted and failed waiting in the queue past their validity (30036, 40014). */
  expired: number;
}

export interface CallbackStats {
  /** Webhooks (status callbacks and inbound) answered 2xx. */
  delivered: number;
  /** Attempts that failed (non-2xx, network error or timeout), retried or not. */
  failedAttempts: number;
  /** Webhooks given up on after their last attempt. */
  abandoned: number;
  /** Status callbacks not even queued because the queue was full (see CallbackOptions.maxQueued). */
  dropped: number;
}

export interface CallbackOptions {
  /** Default true. */
  enabled?: boolean;
  /** After the message leaves the carrier's queue (acceptance, unless it had to wait); default 20. */
  sentDelayMs?: number;
  /** After the sent callback; default 50. */
  deliveredDelayMs?: number;
  /** Webhook requests in flight at most; default 32. */
  concurrency?: number;
  /** Attempts per URL (Telnyx then tries webhook_failover_url the same way); default 3. */
  maxAttempts?: number;
  /** Before attempt n+1, n * retryDelayMs; default 100 (the carriers wait seconds to minutes). */
  retryDelayMs?: number;
  /** Per attempt; default as the carriers: Twilio 15000, Telnyx 2000. */
  timeoutMs?: number;
  /** Status callbacks waiting to be posted at most, beyond which new ones are dropped; default 100000. */
  maxQueued?: number;
}

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Default SANDBOX_TWILIO. */
  twilio?: {
    accountSid: string;
    authToken: string;
    /** Messaging Service SID -> the number Twilio picks from its pool; any other service uses SANDBOX_TWILIO_FROM. */
    messagingServiceFrom?: Record<string, string>;
  };
  /** Default SANDBOX_TELNYX. */
  telnyx?: {
    apiKey: string;
    /** 32 bytes, for tweetnacl's sign.keyPair.fromSeed. */
    signingSeed: Uint8Array;
    /** Profile id -> from number used when only messaging_profile_id is given. */
    messagingProfileFrom?: Record<string, string>;
  };
  callbacks?: CallbackOptions;
  /**
   * Where Telnyx events go when the send request has no webhook_url (Telnyx would use the messaging profile's URL);
   * also the default target of injectInbound.
   */
  defaultWebhookUrl?: string | null;
  /** PRNG seed for errorRate/timeoutRate; default 1. */
  seed?: number;
  /** Accepted messages kept for messages(); beyond it the oldest half is dropped. Default 200000. */
  maxRecords?: number;
  /**
   * The control API's token (at least 43 characters); default: 256 random bits per start. For a harness that starts
   * the simulator as a child process and cannot read what it prints (bench:send).
   */
  controlToken?: string;
  /** Milliseconds since the epoch; tests freeze it to make the rate limits and queues exact. Default Date.now. */
  now?: () => number;
}

export interface InboundInput {
  provider: SimProvider;
  from: string;
  to: string;
  /** Telnyx only: the other participants of a group MMS, put in the payload's `cc`. */
  cc?: string[];
  body: string;
  mediaUrls?: string[];
  webhookUrl?: string;
}
