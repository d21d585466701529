import type {
  Channel,
  Direction,
  Encoding,
  Media,
  Message,
  MessageWithEvents,
  Owned,
  ProviderId,
  Status,
} from './message.js';
import type { ApiKeyStore } from './api-keys.js';
import type { EventStore } from './events.js';
import type { NormalizedEvent } from './provider.js';
import type { FailureClass } from './sending.js';

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
  /** '' when the carrier picks the number (messaging profile or service). */
  from: string;
  to: string;
  /**
   * The other participants of a group MMS (a reply to one); []: a message to `to` alone. Those who opted out of
   * `from` are left out when it is stored (the message still goes to the others); only `to` opting out refuses it.
   */
  cc: string[];
  body: string;
  media: Media[];
  /** As the carrier counts them (its own encoding rules). */
  segments: number | null;
  encoding: Encoding | null;
  statusCallback: string | null;
  /**
   * Makes queuing idempotent: under a key already used, the first message is returned (same `requestHash`) or
   * the request is refused as a conflict (different hash). Null: no key.
   */
  idempotencyKey: string | null;
  /** A digest of the request (normalized: see core/outbound.ts), compared under the same idempotency key. */
  requestHash: string;
  /** The API key that sent it (its id); null for the gateway's own messages (replies). */
  createdBy: string | null;
}

export type EnqueueResult =
  | { outcome: 'stored'; message: Message }
  /** The idempotency key was used for the same request: the first message, nothing stored. */
  | { outcome: 'duplicate'; message: Message }
  /** The idempotency key was used for a different request. */
  | { outcome: 'conflict'; messageId: string }
  /** The recipient opted out of messages from this sender (from '': from any of our numbers). Nothing stored. */
  | { outcome: 'opted_out' };

/** An outbox row with what the dispatcher needs to send it. */
export interface OutboxItem {
  messageId: string;
  provider: ProviderId;
  channel: Channel;
  from: string;
  to: string;
  cc: string[];
  body: string;
  media: Media[];
  /** As `provider` counts them: what its rate limiter is charged. */
  segments: number | null;
  /** Tries made on `provider` so far. */
  attempts: number;
  /** Milliseconds since the epoch. */
  nextAttemptAt: number;
  /** The recipient has opted out of this sender since the message was queued (set by loadOutbox). */
  optedOut?: boolean;
}

/** One try (or a failover decision), as the message's history keeps it. */
export interface AttemptRecord {
  provider: ProviderId;
  errorClass: FailureClass | 'circuit_open' | null;
  errorCode: string | null;
  errorMessage: string | null;
  httpStatus: number | null;
  startedAt: number;
  durationMs: number;
}

/** What the dispatcher learned from a try; recorded atomically with its effect on the message and outbox. */
export type SendOutcome =
  | {
      kind: 'accepted';
      messageId: string;
      attempt: AttemptRecord;
      providerMessageId: string;
      providerStatus: string;
      /** The sender the carrier reports, when the message had none of its own. */
      from: string | null;
      /**
       * The group's other participants it went to, when it was sent to fewer than were queued (some opted out of
       * the sender meanwhile): stored as the message's cc. Absent: as stored.
       */
      cc?: string[];
    }
  /** Try again on the same carrier at `nextAttemptAt`. */
  | { kind: 'retry'; messageId: string; attempt: AttemptRecord; nextAttemptAt: number }
  /**
   * Move to another carrier with its sender; its tries start from zero. The message's segments and encoding become
   * those the new carrier counts (they follow the carrier that sends).
   */
  | {
      kind: 'failover';
      messageId: string;
      attempt: AttemptRecord;
      provider: ProviderId;
      from: string;
      segments: number | null;
      encoding: Encoding | null;
      nextAttemptAt: number;
    }
  /**
   * The message fails for good; `optOut` records that the recipient opted out of its sender. `reason`, when given,
   * is the message's error instead of the attempt's (the attempt keeps the carrier's own code): why it could not
   * fail over, say.
   */
  | {
      kind: 'failed';
      messageId: string;
      attempt: AttemptRecord;
      optOut: boolean;
      reason?: { code: string; message: string };
    };

/**
 * One step of retention work (core/retention.ts runs them): the next `limit` messages after `afterId` created
 * before `before`, handled in one short transaction so that the live traffic's writes never wait long.
 */
export interface RetentionStep {
  /** Milliseconds since the epoch: what was created before this is pruned (or redacted). */
  before: number;
  /** Milliseconds since the epoch: messages created before this are not looked at; null: no lower bound. */
  since: number | null;
  /** Continue after this message id (exclusive); null: from the oldest message. */
  afterId: string | null;
  /** At most this many messages are looked at. */
  limit: number;
  /** Count what would be done, and change nothing. */
  dryRun: boolean;
}

/** What a prune deleted (or would delete). */
export interface PruneCounts {
  messages: number;
  /** The messages' status histories (carrier events). */
  history: number;
  sendAttempts: number;
  idempotencyKeys: number;
  /** App events, with their deliveries and the deliveries' attempts. */
  events: number;
  deliveries: number;
  deliveryAttempts: number;
}

/** What a replay-key step deleted (or would delete). */
export interface ReplayKeyCounts {
  /** Webhook signatures remembered against re-splitting (Store.ingest's replayKey). */
  replayKeys: number;
}

/** What a redaction emptied (or would empty). */
export interface RedactCounts {
  messages: number;
  /** Stored event payloads (the message as it was) emptied the same way. */
  events: number;
  /** The messages' idempotency keys, deleted: their request hashes cover the body. */
  idempotencyKeys: number;
}

export interface RetentionStepResult<C> {
  counts: C;
  /** The last message id looked at (null: none), the next step's `afterId`. */
  lastId: string | null;
  /** No message is left between `lastId` and `before`. */
  done: boolean;
  /**
   * Messages left alone because they still wait (in the outbox, or with an event pending delivery) or are still
   * live (an event newer than the cutoff).
   */
  held: number;
  /** The lowest id among them (null: none); a later pass starts there. */
  firstHeldId: string | null;
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
export interface Store extends EventStore, ApiKeyStore {
  /**
   * Stores the events of one webhook atomically: all of them or none.
   *
   * `replayKey` (the carrier's signature, prefixed with the carrier: see Verification) is remembered in the same
   * transaction, kept as long as messages are (pruneReplayKeys). Given again, it is the carrier's own retry when
   * every event is a duplicate, already stored (each item then answers `duplicate`); otherwise the same signature
   * came with other parameters, a forgery: throws `signature_replayed` and stores nothing.
   */
  ingest(items: IngestItem[], replayKey?: string | null): Promise<IngestResult[]>;
  /**
   * Stores outbound messages as `queued`, each with its outbox row, in one transaction; each item has its own
   * outcome (idempotency, opt-out).
   */
  enqueue(messages: NewOutboundMessage[]): Promise<EnqueueResult[]>;
  /**
   * Which of `keys` are idempotency keys in use (a message was queued under each), in the order given: a request
   * under one of them is a replay or a conflict, which enqueue decides; nothing else about it is judged again.
   */
  existingIdempotencyKeys(keys: readonly string[]): Promise<string[]>;
  /**
   * One carrier's outbox rows in message-id (creation) order, after `afterId` (exclusive; null: from the start),
   * each flagged `optedOut` when its recipient has opted out of its sender meanwhile.
   */
  loadOutbox(provider: ProviderId, afterId: string | null, limit: number): Promise<OutboxItem[]>;
  /**
   * Records a send try and applies it to the message and the outbox; answers what was applied. A failover to a
   * sender the recipient has opted out of is applied as `failed` (`recipient_opted_out`) instead.
   */
  recordSend(outcome: SendOutcome): Promise<SendOutcome['kind']>;
  getMessage(id: string): Promise<Owned<MessageWithEvents> | null>;
  /** Newest first. Throws `invalid_cursor` for a cursor it did not issue. */
  listMessages(
    filter: MessageFilter,
    page: { cursor?: string; limit: number },
  ): Promise<Page<Owned<Message>>>;
  /**
   * Whether `phone` has opted out of messages from `ourNumber`. The pair is the sender of a STOP and the number it
   * was sent to: opting out of one of our numbers does not opt out of the others. `ourNumber` '' (the carrier picks
   * the sender): whether they opted out of any of our numbers.
   */
  isOptedOut(phone: string, ourNumber: string): Promise<boolean>;
  /** Which of `phones` have opted out of `ourNumber` (as isOptedOut asks for each), in the order given. */
  optedOutAmong(phones: readonly string[], ourNumber: string): Promise<string[]>;
  /**
   * Resolves when the store takes writes now; throws, saying why, when it does not (its writes failed and have
   * not been shown to work since, or it cannot answer within `timeoutMs`). Answers within `timeoutMs` whatever
   * the database is doing: readiness (/readyz) must not hang on a blocked disk or a held lock.
   */
  checkReady(timeoutMs: number): Promise<void>;
  /**
   * Retention (RETENTION_DAYS, `switchboard db prune`): deletes each message of the step created before `before`
   * with its status history, send attempts, idempotency keys, and app events with their deliveries and delivery
   * attempts, in one transaction. Never deleted: a message still in the outbox (not yet handed to a carrier, nor
   * failed for good), an event with a delivery still pending (nor its message), a message still live (a carrier
   * event received, or an app event created, at or after `before`: a late receipt), and opt-outs. An old event of
   * a message kept that way is deleted unless it is pending.
   */
  pruneStep(step: RetentionStep): Promise<RetentionStepResult<PruneCounts>>;
  /**
   * REDACT_BODIES_AFTER_DAYS: empties the body and media of each message of the step created before `before`,
   * and inside its stored event payloads, sets its `redactedAt`, and deletes its idempotency keys (their request
   * hashes cover the body), in one transaction. Left as it is: a message in the outbox or with an event pending
   * delivery (it still has to go out), or still live (as for pruneStep); one already redacted is skipped.
   */
  redactStep(step: RetentionStep): Promise<RetentionStepResult<RedactCounts>>;
  /**
   * Retention of the replay keys ingest remembered: deletes up to `limit` of those remembered before `before`,
   * oldest first, after `afterId` (the `lastId` of the step before: an opaque position; null from the oldest), in
   * one transaction. `since` is not used; nothing is ever held.
   */
  pruneReplayKeys(step: RetentionStep): Promise<RetentionStepResult<ReplayKeyCounts>>;
  close(): Promise<void>;
}
