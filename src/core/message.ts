/**
 * The canonical message model. Every carrier's webhooks and API results are translated into these types by its
 * adapter; nothing outside src/providers/ ever sees a carrier's own shapes.
 */

export const PROVIDER_IDS = ['twilio', 'telnyx'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export function isProviderId(value: string): value is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(value);
}

export type Direction = 'inbound' | 'outbound';
export type Channel = 'sms' | 'mms' | 'whatsapp';
/** GSM-7 (GSM 03.38 or a carrier's subset of it), ASCII-7 (Telnyx short codes) or UCS-2 (UTF-16). */
export type Encoding = 'GSM-7' | 'ASCII-7' | 'UCS-2';

export const STATUSES = [
  'received',
  'queued',
  'sending',
  'sent',
  'delivered',
  'read',
  'undelivered',
  'failed',
  'canceled',
] as const;
export type Status = (typeof STATUSES)[number];

/**
 * Progress order. A message's status only moves to a higher rank, so a late `sent` never replaces `delivered`.
 * Invariant: every terminal status outranks every non-terminal one, so a terminal status is never replaced by a
 * non-terminal one. The failure outcomes share a rank (the first to arrive stands); a delivery receipt outranks
 * them because a handset's confirmation is the stronger evidence; `read` is the furthest a message can go.
 */
export const STATUS_RANK: Readonly<Record<Status, number>> = {
  received: 0,
  queued: 10,
  sending: 20,
  sent: 30,
  undelivered: 40,
  failed: 40,
  canceled: 40,
  delivered: 50,
  read: 60,
};

const TERMINAL: ReadonlySet<Status> = new Set(['delivered', 'read', 'undelivered', 'failed', 'canceled']);

export function isTerminal(status: Status): boolean {
  return TERMINAL.has(status);
}

/** The status a message has after an event reporting `next` arrives while it is at `current`. */
export function advanceStatus(current: Status, next: Status | null): Status {
  if (next === null) return current;
  return STATUS_RANK[next] > STATUS_RANK[current] ? next : current;
}

export interface Media {
  url: string;
  contentType: string | null;
}

/** A message as Switchboard stores and returns it. */
export interface Message {
  id: string;
  provider: ProviderId;
  providerMessageId: string | null;
  direction: Direction;
  channel: Channel;
  /** E.164 where the address is a phone number; short codes and alphanumeric sender ids are kept as sent. */
  from: string;
  to: string;
  /** Other recipients of a group MMS, besides `to`. */
  cc: string[];
  body: string;
  media: Media[];
  status: Status;
  /** The carrier's own word for the current status, kept even where it has no canonical equivalent. */
  providerStatus: string | null;
  segments: number | null;
  encoding: Encoding | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** Outbound: where the app asked for this message's status changes. */
  statusCallback: string | null;
  createdAt: string;
  updatedAt: string;
  /**
   * When the body and media were removed (REDACT_BODIES_AFTER_DAYS, `switchboard db prune`): `body` is then '' and
   * `media` []. Null: never redacted.
   */
  redactedAt: string | null;
}

export interface MessageEvent {
  /** Null when the carrier reported a status Switchboard does not know; `providerStatus` keeps its word. */
  status: Status | null;
  providerStatus: string;
  provider: ProviderId;
  recipient: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  occurredAt: string;
  /** The carrier's own time for the event as it wrote it (Twilio RawDlrDoneDate, YYMMDDhhmm); null if none. */
  providerTime: string | null;
}

/** One call to a carrier's send API (or a decision to move on without one), newest last. */
export interface SendAttempt {
  provider: ProviderId;
  outcome: 'accepted' | 'retry' | 'failover' | 'failed';
  /** Null when accepted; otherwise the class of failure (see core/sending.ts). */
  errorClass: string | null;
  /** The carrier's own error code, kept as it sent it. */
  errorCode: string | null;
  errorMessage: string | null;
  httpStatus: number | null;
  providerMessageId: string | null;
  startedAt: string;
  durationMs: number;
}

/**
 * A message as the store reads it back, with the API key that sent it through the API (its id; null for inbound
 * messages, replies, and messages stored before it was kept). The API never shows `createdBy`: it decides who
 * sees the message's statusCallback in full (see http/visibility.ts).
 */
export type Owned<T extends Message> = T & { createdBy: string | null };

export interface MessageWithEvents extends Message {
  events: MessageEvent[];
  /** Outbound messages: every try, with carrier, error and timing. */
  attempts: SendAttempt[];
}
