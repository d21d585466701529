import type {
  Channel,
  Direction,
  Encoding,
  Media,
  Message,
  MessageWithEvents,
  ProviderId,
  Status,
} from './message.js';
import type { NormalizedEvent } from './provider.js';

/** One normalized event to store, with the change it makes to the opt-out list (from a STOP/START keyword). */
export interface IngestItem {
  event: NormalizedEvent;
  optOut: 'add' | 'remove' | null;
}

export interface IngestResult {
  /** `duplicate`: an event with this dedupe key is already stored; nothing was written. */
  outcome: 'stored' | 'duplicate';
  messageId: string;
}

export interface NewOutboundMessage {
  provider: ProviderId;
  channel: Channel;
  from: string;
  to: string;
  body: string;
  media: Media[];
  segments: number | null;
  encoding: Encoding | null;
  /** Makes queuing idempotent: a second call with the same key returns the first message. */
  dedupeKey: string;
}

export interface MessageFilter {
  direction?: Direction;
  status?: Status;
  provider?: ProviderId;
  channel?: Channel;
  from?: string;
  to?: string;
  /** Milliseconds since the epoch: messages created at or after. */
  since?: number;
}

export interface Page<T> {
  data: T[];
  /** Opaque; pass back to get the next page. Null on the last page. */
  nextCursor: string | null;
}

/**
 * Durable storage. Every write resolves only after it is committed durably, because the HTTP layer acknowledges a
 * carrier as soon as the promise resolves. Implementations must make a duplicate event a no-op, keep a message's
 * status moving forward only (see advanceStatus), and keep every event in the message's history.
 *
 * Asynchronous throughout so that a server database can implement it; the SQLite implementation is in src/db.
 */
export interface Store {
  /** Stores the events of one webhook atomically: all of them or none. */
  ingest(items: IngestItem[]): Promise<IngestResult[]>;
  /** Queues an outbound message (status `queued`) for the send pipeline. */
  queueOutbound(message: NewOutboundMessage): Promise<{ messageId: string; outcome: 'stored' | 'duplicate' }>;
  getMessage(id: string): Promise<MessageWithEvents | null>;
  /** Newest first. Throws `invalid_cursor` for a cursor it did not issue. */
  listMessages(filter: MessageFilter, page: { cursor?: string; limit: number }): Promise<Page<Message>>;
  /**
   * Whether `phone` has opted out of messages from `ourNumber`. The pair is the sender of a STOP and the number it
   * was sent to: opting out of one of our numbers does not opt out of the others.
   */
  isOptedOut(phone: string, ourNumber: string): Promise<boolean>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
