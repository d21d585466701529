import type { ErrorCode } from './errors.js';
import type { Channel, Encoding, Media, ProviderId, Status } from './message.js';
import type { RawWebhook } from './webhook.js';

/**
 * The outcome of checking a webhook's signature and freshness. Never thrown: bad input is an answer, not a crash.
 *
 * `replayKey`: set by a carrier whose signature never expires and does not delimit what it signs (Twilio), so that
 * one signature could be re-split into other parameters. It names the signed request (its signature); the store
 * remembers it with the webhook's events and refuses it with anything else (see Store.ingest).
 */
export type Verification = { ok: true; replayKey?: string } | { ok: false; code: ErrorCode; reason: string };

/** An inbound message from a carrier, in canonical form. */
export interface InboundMessageEvent {
  kind: 'inbound_message';
  /** Unique per carrier event; a second delivery of the same event is acknowledged and not processed again. */
  dedupeKey: string;
  provider: ProviderId;
  providerMessageId: string;
  providerStatus: string;
  channel: Channel;
  from: string;
  to: string;
  cc: string[];
  body: string;
  media: Media[];
  segments: number | null;
  encoding: Encoding | null;
  /** Milliseconds since the epoch. */
  occurredAt: number;
}

/** A status change of a message (normally one Switchboard sent), one per recipient. */
export interface StatusEvent {
  kind: 'status';
  dedupeKey: string;
  provider: ProviderId;
  providerMessageId: string;
  /** Null when the carrier's status is not in its adapter's table; `providerStatus` keeps the raw word. */
  status: Status | null;
  providerStatus: string;
  errorCode: string | null;
  errorMessage: string | null;
  /** Addresses as the callback reports them; used to record a message Switchboard did not send itself. */
  from: string | null;
  to: string | null;
  channel: Channel;
  body: string | null;
  segments: number | null;
  encoding: Encoding | null;
  /**
   * Milliseconds since the epoch; never before the event it follows, so a history reads in the order things
   * happened. A carrier time that cannot promise that (coarse, zone-less) goes in `providerTime` instead.
   */
  occurredAt: number;
  /** The carrier's own time for the event, as it wrote it (Twilio RawDlrDoneDate: YYMMDDhhmm, no time zone). */
  providerTime?: string | null;
  /**
   * The carrier reports that the recipient opted out of the sender (Twilio 21610, Telnyx 40300 in a failure
   * receipt): ingest records the opt-out of `to` from `from`, as for a refusal at send time. Set by every parser.
   */
  recipientOptedOut: boolean;
}

export type NormalizedEvent = InboundMessageEvent | StatusEvent;

/** What the app's handler may answer to an inbound message. */
export interface Reply {
  body: string;
  mediaUrls?: string[];
}

/** The HTTP response a carrier expects for a webhook. */
export interface HttpReply {
  statusCode: number;
  contentType: string;
  body: string;
}

/**
 * The inbound half of the contract every carrier adapter implements. The outbound half (send, classify) joins with
 * the send pipeline.
 */
export interface Provider {
  readonly id: ProviderId;
  /**
   * Checks signature and freshness against the raw request. Never throws on bad input. May answer asynchronously,
   * so that expensive checks can run off the event loop.
   */
  verify(req: RawWebhook): Verification | Promise<Verification>;
  /**
   * Normalizes a verified webhook. Returns [] for an event type Switchboard does not handle (acknowledged, not
   * stored). Throws `invalid_payload` or `malformed_body` for a body that cannot be normalized.
   */
  parse(req: RawWebhook): NormalizedEvent[];
  /** Whether this carrier can wait for the app's answer and carry it in the webhook response. */
  readonly repliesInline: boolean;
  webhookResponse(reply?: Reply): HttpReply;
}

/**
 * Detection is separate from the adapter: a payload must be recognized as a carrier's even when that carrier is
 * not configured, so the answer can be `provider_not_configured` rather than `unknown_provider`.
 */
export interface ProviderDetector {
  readonly id: ProviderId;
  /** Cheap and total: headers first, then body shape; false (never a throw) for anything unparseable. */
  detect(req: RawWebhook): boolean;
  /** True when the carrier's signature header is present: detection by header wins over body shape. */
  detectByHeader(req: RawWebhook): boolean;
}
