import {
  advanceStatus,
  STATUS_RANK,
  type Channel,
  type Media,
  type ProviderId,
  type Status,
} from '../../core/message.js';
import { eventTypeFor } from '../../core/events.js';
import type { NewOutboundMessage, OutboxItem, SendOutcome } from '../../core/store.js';
import type { EventWrites } from './event-writes.js';
import type { EnqueueWire } from '../rows.js';
import { toMessage } from '../rows.js';
import { insertMessage, type Statements } from './statements.js';

/**
 * The send pipeline's writes, inside the engine's transactions: a message and its outbox row together; a try's
 * record together with its effect on the message and the outbox. Runs in the store's worker (see sqlite.ts).
 *
 * A message's events are what carriers reported, plus a final failure; the pipeline's own steps are its send
 * attempts. Creation and acceptance therefore write no event (two fewer rows per message): the history shows
 * `queued` at the creation time (see SqliteEngine.getMessage) and acceptance as an attempt.
 */
export class SendPipelineWrites {
  readonly #s: Statements;
  readonly #events: EventWrites;
  readonly #now: () => number;

  constructor(statements: Statements, events: EventWrites, now: () => number) {
    this.#s = statements;
    this.#events = events;
    this.#now = now;
  }

  enqueue(items: NewOutboundMessage[]): EnqueueWire[] {
    const now = this.#now();
    return items.map((item) => this.#enqueueOne(item, now));
  }

  #enqueueOne(item: NewOutboundMessage, now: number): EnqueueWire {
    const s = this.#s;
    if (item.idempotencyKey !== null) {
      const seen = s.idempotencyByKey.get({ key: item.idempotencyKey });
      if (seen) {
        if (seen.requestHash !== item.requestHash) return { outcome: 'conflict', messageId: seen.messageId };
        const row = s.messageRow.get({ id: seen.messageId });
        if (row) return { outcome: 'duplicate', message: toMessage(row) };
      }
    }
    // Checked in the transaction that stores the message, so a STOP committed before it is always seen.
    if (this.isOptedOut(item.to, item.from)) return { outcome: 'opted_out' };
    // A group's participants who opted out of this sender are left out of the message; the others still get it
    // (with none left, it goes to `to` alone).
    const cc = this.#reachable(item.cc, item.from);

    const id = insertMessage(s, {
      provider: item.provider,
      providerMessageId: null,
      direction: 'outbound',
      channel: item.channel,
      fromNumber: item.from,
      toNumber: item.to,
      cc,
      body: item.body,
      media: item.media,
      status: 'queued',
      providerStatus: null,
      segments: item.segments,
      encoding: item.encoding,
      errorCode: null,
      errorMessage: null,
      statusCallback: item.statusCallback,
      createdBy: item.createdBy,
      now,
    });
    s.insertOutbox.run({ messageId: id, provider: item.provider, nextAttemptAt: now, createdAt: now });
    if (item.idempotencyKey !== null) {
      s.insertIdempotency.run({
        key: item.idempotencyKey,
        requestHash: item.requestHash,
        messageId: id,
        createdAt: now,
      });
    }
    // The caller knows the message it asked for: only what the database added or changed goes back.
    return { outcome: 'stored', id, createdAt: now, ...(cc.length !== item.cc.length && { cc }) };
  }

  /** The participants of `cc` who have not opted out of `ourNumber`. */
  #reachable(cc: string[], ourNumber: string): string[] {
    return cc.length === 0 ? cc : cc.filter((phone) => !this.isOptedOut(phone, ourNumber));
  }

  /** Which of `keys` have a message queued under them. */
  existingIdempotencyKeys(keys: readonly string[]): string[] {
    return keys.filter((key) => this.#s.idempotencyByKey.get({ key }) !== undefined);
  }

  /** Rows as they are to be sent now: `optedOut` flags a recipient who opted out since; such a cc is left out. */
  loadOutbox(provider: ProviderId, afterId: string | null, limit: number): OutboxItem[] {
    return this.#s.outboxAfter.all({ provider, afterId: afterId ?? '', limit }).map((r) => ({
      messageId: r.messageId,
      provider: r.provider as ProviderId,
      channel: r.channel as Channel,
      from: r.from,
      to: r.to,
      cc: this.#reachable(JSON.parse(r.cc) as string[], r.from),
      body: r.body,
      media: JSON.parse(r.media) as Media[],
      segments: r.segments,
      attempts: r.attempts,
      nextAttemptAt: r.nextAttemptAt,
      optedOut: r.optedOut === 1,
    }));
  }

  /** Whether `phone` opted out of `ourNumber`, or of any of our numbers when `ourNumber` is ''. */
  isOptedOut(phone: string, ourNumber: string): boolean {
    const s = this.#s;
    const row = ourNumber === '' ? s.optOutOfAnyNumber.get({ phone }) : s.optOut.get({ phone, ourNumber });
    return row !== undefined;
  }

  /** Applies a send try; answers what was applied (a failover to an opted-out sender becomes `failed`). */
  record(given: SendOutcome): SendOutcome['kind'] {
    const s = this.#s;
    const now = this.#now();
    const row = s.sendState.get({ id: given.messageId });
    // The message is gone (deleted by an operator): nothing to send, nothing to record.
    if (!row) {
      s.deleteOutbox.run({ messageId: given.messageId });
      return 'failed';
    }
    let outcome = given;
    if (outcome.kind === 'failover' && this.isOptedOut(row.toNumber, outcome.from)) {
      // The next carrier's number is one the recipient said STOP to: the message stops here.
      outcome = {
        kind: 'failed',
        messageId: outcome.messageId,
        attempt: {
          ...outcome.attempt,
          errorClass: 'opted_out',
          errorCode: 'recipient_opted_out',
          errorMessage: `failing over to ${outcome.provider}, whose sender the recipient opted out of`,
        },
        optOut: false,
      };
    }
    const { messageId, attempt } = outcome;
    s.insertAttempt.run({
      messageId,
      provider: attempt.provider,
      outcome: outcome.kind,
      errorClass: attempt.errorClass,
      errorCode: attempt.errorCode,
      errorMessage: attempt.errorMessage,
      httpStatus: attempt.httpStatus,
      providerMessageId: outcome.kind === 'accepted' ? outcome.providerMessageId : null,
      startedAt: attempt.startedAt,
      durationMs: attempt.durationMs,
    });

    switch (outcome.kind) {
      case 'retry':
        s.retryOutbox.run({ messageId, nextAttemptAt: outcome.nextAttemptAt });
        return 'retry';
      case 'failover':
        s.failoverOutbox.run({ messageId, provider: outcome.provider, nextAttemptAt: outcome.nextAttemptAt });
        s.moveToProvider.run({
          id: messageId,
          provider: outcome.provider,
          from: outcome.from,
          segments: outcome.segments,
          encoding: outcome.encoding,
          updatedAt: now,
        });
        return 'failover';
      case 'accepted': {
        let status = advanceStatus(row.status as Status, 'sending');
        let providerStatus: string | null = outcome.providerStatus;
        let errorCode = row.errorCode;
        let errorMessage = row.errorMessage;
        // The carrier's status callback can beat this write (it is posted as soon as the carrier answers us), in
        // which case ingest recorded the callback on a message of its own. Fold it into this one.
        const early = s.messageByProviderId.get({
          provider: attempt.provider,
          providerMessageId: outcome.providerMessageId,
        });
        if (early && early.id !== messageId) {
          s.moveEvents.run({ from: early.id, to: messageId });
          s.deleteMessage.run({ id: early.id });
          const merged = advanceStatus(status, early.status as Status);
          if (STATUS_RANK[merged] > STATUS_RANK[status]) providerStatus = early.providerStatus;
          status = merged;
          errorCode = early.errorCode ?? errorCode;
          errorMessage = early.errorMessage ?? errorMessage;
        }
        s.accept.run({
          id: messageId,
          providerMessageId: outcome.providerMessageId,
          from: row.fromNumber === '' ? (outcome.from ?? '') : row.fromNumber,
          status,
          providerStatus,
          errorCode,
          errorMessage,
          // Who it went to: participants who opted out after it was queued were left out of the send.
          cc: outcome.cc === undefined ? null : JSON.stringify(outcome.cc),
          updatedAt: now,
        });
        s.deleteOutbox.run({ messageId });
        if (status !== row.status) this.#events.emit(messageId, eventTypeFor(status), now);
        return 'accepted';
      }
      case 'failed': {
        const status = advanceStatus(row.status as Status, 'failed');
        const errorCode = outcome.reason?.code ?? attempt.errorCode;
        const errorMessage = outcome.reason?.message ?? attempt.errorMessage;
        s.updateStatus.run({
          id: messageId,
          status,
          providerStatus: status === 'failed' ? 'failed' : row.providerStatus,
          errorCode,
          errorMessage,
          updatedAt: now,
        });
        s.insertEvent.run({
          messageId,
          dedupeKey: `failed:${messageId}`,
          provider: attempt.provider,
          status: 'failed',
          providerStatus: 'failed',
          recipient: row.toNumber,
          errorCode,
          errorMessage,
          occurredAt: attempt.startedAt + attempt.durationMs,
          receivedAt: now,
          providerTime: null,
        });
        if (outcome.optOut) {
          s.addOptOut.run({
            phone: row.toNumber,
            ourNumber: row.fromNumber,
            provider: attempt.provider,
            createdAt: now,
          });
        }
        s.deleteOutbox.run({ messageId });
        if (status !== row.status) this.#events.emit(messageId, eventTypeFor(status), now);
        return 'failed';
      }
    }
  }
}
