import type { Channel, Media, ProviderId } from './message.js';
import type { SegmentCounter } from './segments.js';

/**
 * Why a carrier did not take a message, as far as the dispatcher cares:
 *
 * - `rate_limited`: the carrier asks us to slow down (429), or one sender's queue at the carrier is full (see
 *   SendFailure.senderLimited). Retried after Retry-After or a backoff.
 * - `transient`: 5xx, timeout, connection failure. Retried with backoff; counts against the circuit breaker.
 * - `provider`: the carrier cannot send for us at all (authentication, suspended account). Not retried on that
 *   carrier; the message fails over at once. Counts against the circuit breaker.
 * - `sender`: the carrier refuses this message's sender number (not ours on that account). Fails over to the next
 *   carrier, which sends from its own number; does not count against the circuit breaker, since a client-chosen
 *   `from` says nothing about the carrier's health.
 * - `recipient`: the destination cannot receive (invalid number, landline). The message fails; no failover,
 *   because another carrier would fail the same way.
 * - `opted_out`: the recipient replied STOP (Twilio 21610, Telnyx 40300). The message fails and the opt-out is
 *   recorded.
 * - `rejected`: the carrier refused this request for another permanent reason (4xx). The message fails with the
 *   carrier's code.
 */
export type FailureClass =
  'rate_limited' | 'transient' | 'provider' | 'sender' | 'recipient' | 'opted_out' | 'rejected';

/** Carrier-side failures: retrying elsewhere may work. Recipient-side ones never fail over. */
export const PROVIDER_SIDE: ReadonlySet<FailureClass> = new Set([
  'rate_limited',
  'transient',
  'provider',
  'sender',
]);

export interface SendFailure {
  class: FailureClass;
  /** The carrier's own code (Twilio 21211, Telnyx 40300), or a code of ours for network failures (`timeout`). */
  code: string | null;
  message: string;
  httpStatus: number | null;
  /** From the carrier's Retry-After, when it sent one. */
  retryAfterMs: number | null;
  /**
   * A `rate_limited` failure of this message's sender number, not of the carrier (Twilio 21611: that number's queue
   * at Twilio already holds over 10 hours of sending). The message waits long before its next try (the backoff's
   * maximum, or a longer Retry-After), and the carrier's queue is not paused, so its other senders go on.
   */
  senderLimited?: boolean;
}

/** What a carrier adapter is asked to send. */
export interface OutboundRequest {
  messageId: string;
  /** `whatsapp` goes out as WhatsApp (Twilio `whatsapp:` addresses); `sms` and `mms` as carrier messages. */
  channel: Channel;
  /** Null: the carrier picks a number (Telnyx messaging profile, Twilio Messaging Service). */
  from: string | null;
  to: string;
  /** The other participants of a group MMS (a reply to everyone in it); [] for a message to `to` alone. */
  cc: string[];
  body: string;
  media: Media[];
}

export interface SendResult {
  providerMessageId: string;
  /** The carrier's word for the message's state on acceptance (`queued`, `accepted`). */
  providerStatus: string;
  /** The sender the carrier used, when it reports one. */
  from: string | null;
}

/** What a carrier can carry, and the sizes it accepts in one API call: its own rules, checked before a send. */
export interface SendLimits {
  /** Characters (UTF-16 code units) of the body; null: limited by segments only. */
  maxBodyLength: number | null;
  /** SMS segments of a text-only message, counted by `segments`; null: limited by length only. */
  maxSegments: number | null;
  maxMedia: number;
  /** The channels the carrier sends on (`mms` is `sms` with media). A message never goes on another. */
  channels: ReadonlySet<Channel>;
  /** Recipients of one group MMS (`to` and `cc` together); 0: the carrier sends no group messages. */
  maxGroupRecipients: number;
  /** How the carrier encodes and splits a text body: segments and encoding follow the carrier that sends. */
  segments: SegmentCounter;
}

/** The outbound half of the provider contract: sending through the carrier's official SDK. */
export interface Sender {
  readonly id: ProviderId;
  readonly limits: SendLimits;
  /**
   * Resolves when the carrier accepted the message; rejects with whatever the SDK threw. Gives up after the
   * lane's `timeoutMs` (configured into the SDK client); `signal` aborts it earlier, at shutdown.
   */
  send(request: OutboundRequest, signal: AbortSignal): Promise<SendResult>;
  /** Total: every error, even one it has never seen, gets a class (unknown errors are `transient`). */
  classify(error: unknown): SendFailure;
}
