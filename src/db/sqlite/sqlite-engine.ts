import { createHash } from 'node:crypto';
import { mkdirSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { and, asc, desc, eq, gte, lt, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import {
  advanceStatus,
  type Message,
  type MessageWithEvents,
  type Owned,
  type ProviderId,
  type SendAttempt,
  type Status,
} from '../../core/message.js';
import {
  eventTypeFor,
  type DeliveryResult,
  type EndpointDefinition,
  type EndpointState,
  type EventFilter,
  type EventSummary,
  type LaneAllowance,
  type PendingDelivery,
  type StoredEventDetail,
} from '../../core/events.js';
import type { InboundMessageEvent, StatusEvent } from '../../core/provider.js';
import type {
  IngestItem,
  IngestResult,
  MessageFilter,
  NewOutboundMessage,
  OutboxItem,
  Page,
  RetentionStep,
  SendOutcome,
} from '../../core/store.js';
import type { ApiKeyRecord } from '../../core/api-keys.js';
import { SwitchboardError } from '../../core/errors.js';
import { ApiKeyRows } from './api-key-rows.js';
import { EventQueries } from './event-queries.js';
import { EventWrites } from './event-writes.js';
import { commitGroup, type Outcome } from './group-commit.js';
import { decodeCursor, encodeCursor, firstIdAt } from '../ids.js';
import { newerVersionMessage, recordedMigrations, unknownMigrations } from './migration-journal.js';
import { RetentionWrites } from './retention.js';
import { toMessage } from '../rows.js';
import { SendPipelineWrites } from './send-pipeline.js';
import { insertMessage, prepareStatements, type Db, type Statements } from './statements.js';
import { messageEvents, messages, sendAttempts } from './schema.js';
import * as schema from './schema.js';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

/**
 * What webhook_signatures keeps of a replay key: 16 bytes of its SHA-256. The keys are carrier HMACs nobody can
 * choose, so 128 bits leave no practical chance of two webhooks sharing a row, at half the size of the whole hash.
 */
export function signatureDigest(replayKey: string): Buffer {
  return createHash('sha256').update(replayKey).digest().subarray(0, 16);
}

/** A write the engine commits as part of a group. */
export type WriteOp =
  | { op: 'ingest'; items: IngestItem[]; replayKey?: string | null }
  | { op: 'enqueue'; messages: NewOutboundMessage[] }
  | { op: 'recordSend'; outcome: SendOutcome }
  | { op: 'recordDelivery'; result: DeliveryResult }
  | { op: 'redeliver'; eventId: string; endpointId: string | null }
  | { op: 'replay'; endpointId: string; since: number }
  | { op: 'syncEndpoints'; endpoints: EndpointDefinition[] }
  | { op: 'setEndpointEnabled'; id: string; enabled: boolean; reason: string | null }
  | { op: 'createApiKey'; record: ApiKeyRecord }
  | { op: 'revokeApiKey'; id: string; at: number }
  | { op: 'pruneStep'; step: RetentionStep }
  | { op: 'redactStep'; step: RetentionStep }
  | { op: 'pruneReplayKeys'; step: RetentionStep };

export type PragmaName =
  | 'journal_mode'
  | 'synchronous'
  | 'foreign_keys'
  | 'temp_store'
  | 'secure_delete'
  | 'page_count'
  | 'max_page_count';

/** How long a write waits for another connection's write lock before it fails with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;
/**
 * The readiness probe's wait for another connection's write lock. Short: the probe runs on the store's only
 * worker, and every request behind it waits as long (with 1 s, a lock held elsewhere made every read wait up to
 * a second each time readiness was asked). A lock still held after this is reported as held.
 */
const PROBE_BUSY_TIMEOUT_MS = 50;
/**
 * Room the probe asks for, in pages: a message takes a few at most, so a database with less room than this, under
 * max_page_count or on its disk, cannot be counted on to take the next one.
 */
export const ROOM_PAGES = 8;

export interface SqliteEngineOptions {
  /** Free disk space under which the probe reports no room. @default ROOM_PAGES pages */
  minFreeDiskBytes?: number;
}

/**
 * The SQLite database itself, synchronous: WAL, synchronous=FULL (a commit survives power loss), migrations applied
 * at open. It runs inside the store's worker thread (see sqlite.ts), so its blocking calls, the fsync of each commit
 * above all, never stall the HTTP event loop.
 */
export class SqliteEngine {
  readonly #sqlite: Database.Database;
  readonly #db: Db;
  readonly #now: () => number;
  readonly #statements: Statements;
  readonly #sending: SendPipelineWrites;
  readonly #events: EventWrites;
  readonly #eventQueries: EventQueries;
  readonly #apiKeys: ApiKeyRows;
  readonly #probe: () => void;
  readonly #path: string;
  readonly #pageSize: number;
  readonly #minFreeDiskBytes: number;
  readonly #retention: RetentionWrites;

  /** @param path a file path (its directory is created) or `:memory:` */
  constructor(path: string, now: () => number = Date.now, options: SqliteEngineOptions = {}) {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.#sqlite = new Database(path);
    } catch (err) {
      // DATABASE_URL is the usual culprit; say so rather than leave a bare EACCES/ENOTDIR.
      throw new Error(`Cannot open the database at ${path} (DATABASE_URL): ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#sqlite.pragma('journal_mode = WAL');
    this.#sqlite.pragma('synchronous = FULL');
    this.#sqlite.pragma('foreign_keys = ON');
    this.#sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Statement journals (for savepoints and multi-row statements) stay in memory instead of temp files.
    this.#sqlite.pragma('temp_store = MEMORY');
    // What is deleted or overwritten (a redacted body, a deleted idempotency key's request hash) is zeroed in the
    // pages SQLite writes anyway, rather than left in their free space for anyone reading the file. FAST: no extra
    // I/O (pages freed whole, an overflowing body's, are not rewritten; see README, Data retention).
    this.#sqlite.pragma('secure_delete = FAST');
    this.#db = drizzle({ client: this.#sqlite, schema });
    const unknown = unknownMigrations(recordedMigrations(this.#sqlite));
    if (unknown.length > 0) {
      this.#sqlite.close();
      throw new Error(newerVersionMessage(path, unknown));
    }
    migrate(this.#db, { migrationsFolder: MIGRATIONS });
    this.#now = now;
    this.#statements = prepareStatements(this.#db, this.#sqlite);
    this.#events = new EventWrites(this.#sqlite, now);
    this.#eventQueries = new EventQueries(this.#db);
    this.#apiKeys = new ApiKeyRows(this.#db);
    this.#retention = new RetentionWrites(this.#sqlite, now);
    this.#sending = new SendPipelineWrites(this.#statements, this.#events, now);
    this.#path = path;
    this.#pageSize = Number(this.#sqlite.pragma('page_size', { simple: true }));
    this.#minFreeDiskBytes = options.minFreeDiskBytes ?? ROOM_PAGES * this.#pageSize;
    // The smallest write there is: one page (write_probe's only one), one WAL frame, one fsync.
    const insertProbe = this.#sqlite.prepare("INSERT INTO write_probe (filler) VALUES (x'')");
    const clearProbe = this.#sqlite.prepare('DELETE FROM write_probe');
    const probe = this.#sqlite.transaction(() => {
      insertProbe.run();
      clearProbe.run();
    });
    this.#probe = () => probe.immediate();
  }

  /** A pragma's value; or, with `value`, sets it first (max_page_count: tests fill the "disk" with it). */
  pragma(name: PragmaName, value?: number): unknown {
    if (value !== undefined) {
      if (!Number.isSafeInteger(value)) throw new TypeError(`Expected an integer, got \`${value}\``);
      return this.#sqlite.pragma(`${name} = ${value}`, { simple: true });
    }
    return this.#sqlite.pragma(name, { simple: true });
  }

  /**
   * Whether the database takes writes now. Checks room directly: ROOM_PAGES pages under max_page_count (pages on
   * the free list count) and as many bytes free on the disk. Then commits the smallest write (one page, left as
   * it was), which shows the write lock can be taken and a commit reaches the disk; it proves no room, since it
   * needs none. Throws otherwise: no room, SQLITE_BUSY (another connection holds the write lock for more than
   * PROBE_BUSY_TIMEOUT_MS), an I/O error. A frozen disk makes it hang, like any write.
   */
  probeWrite(): void {
    this.#checkRoom();
    this.#sqlite.pragma(`busy_timeout = ${PROBE_BUSY_TIMEOUT_MS}`);
    try {
      this.#probe();
    } finally {
      this.#sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  #checkRoom(): void {
    const pragma = (name: string) => Number(this.#sqlite.pragma(name, { simple: true }));
    const pages = pragma('max_page_count') - pragma('page_count') + pragma('freelist_count');
    if (pages < ROOM_PAGES) {
      throw new Error(
        `database or disk is full: room for ${pages} more pages under max_page_count, fewer than ${ROOM_PAGES}`,
      );
    }
    if (this.#path === ':memory:') return;
    let free: number;
    try {
      const fs = statfsSync(dirname(this.#path));
      // Blocks kept for root are free to a process running as root, as they are to SQLite's writes then.
      free = (process.getuid?.() === 0 ? fs.bfree : fs.bavail) * fs.bsize;
    } catch {
      return; // a file system that cannot say: the write decides
    }
    if (free < this.#minFreeDiskBytes) {
      throw new Error(
        `database or disk is full: ${free} bytes free on the database's disk, fewer than ${this.#minFreeDiskBytes}`,
      );
    }
  }

  /**
   * Commits a group of writes in one transaction (one fsync). Each write succeeds or fails alone; see commitGroup.
   * A write's outcome is returned only after the commit, so it is durable when the caller sees it.
   */
  write(ops: WriteOp[]): Outcome[] {
    const touchesEndpoints = ops.some(
      (op) =>
        op.op === 'syncEndpoints' ||
        op.op === 'setEndpointEnabled' ||
        (op.op === 'recordDelivery' && op.result.disable !== null),
    );
    try {
      return this.#commit(ops);
    } finally {
      // The endpoints' cache was changed inside the transaction; if it rolled back, the cache must follow.
      if (touchesEndpoints) this.#refreshEndpoints();
    }
  }

  #refreshEndpoints(): void {
    try {
      this.#events.refreshEndpoints();
    } catch {
      // The database cannot be read either: the write's own outcome says so; the next such write reloads it.
    }
  }

  #commit(ops: WriteOp[]): Outcome[] {
    return commitGroup(
      this.#sqlite,
      ops.map((op) => () => {
        switch (op.op) {
          case 'ingest':
            return this.#ingest(op.items, op.replayKey ?? null);
          case 'enqueue':
            return this.#sending.enqueue(op.messages);
          case 'recordSend':
            return this.#sending.record(op.outcome);
          case 'recordDelivery':
            return this.#events.record(op.result);
          case 'redeliver':
            return this.#events.redeliver(op.eventId, op.endpointId);
          case 'replay':
            return this.#events.replay(op.endpointId, op.since);
          case 'syncEndpoints':
            return this.#events.syncEndpoints(op.endpoints);
          case 'setEndpointEnabled':
            return this.#events.setEnabled(op.id, op.enabled, op.reason);
          case 'createApiKey':
            return this.#apiKeys.create(op.record);
          case 'revokeApiKey':
            return this.#apiKeys.revoke(op.id, op.at);
          // A step is a write among the others: it joins the live traffic's group commit, and is kept small.
          case 'pruneStep':
            return this.#retention.prune(op.step);
          case 'redactStep':
            return this.#retention.redact(op.step);
          case 'pruneReplayKeys':
            return this.#retention.pruneReplayKeys(op.step);
        }
      }),
    );
  }

  /**
   * One webhook's events, all or none. Its replay key (a carrier signature) is remembered with them; met again, it
   * is the carrier's retry only if every event is a duplicate (stored already). Anything else under a signature
   * already used is the same signed text re-split into other parameters: refused, and the throw rolls this write
   * back.
   */
  #ingest(items: IngestItem[], replayKey: string | null): IngestResult[] {
    if (replayKey !== null) {
      const remembered = this.#statements.rememberSignature.run({
        digest: signatureDigest(replayKey),
        receivedAt: this.#now(),
      });
      if (remembered.changes === 0 && !items.every((item) => this.#duplicateOf(item.event) !== null)) {
        throw new SwitchboardError('signature_replayed');
      }
    }
    return items.map((item) => this.#ingestOne(item));
  }

  /** The message an event was already stored for (so it is a duplicate), or null. */
  #duplicateOf(event: IngestItem['event']): string | null {
    const s = this.#statements;
    const seen = s.eventByDedupeKey.get({ key: event.dedupeKey });
    if (seen) return seen.messageId;
    if (event.kind === 'inbound_message') {
      // The same message under a new event id (a carrier retry with another id) is still one message, already
      // processed: a duplicate, with no second history entry and no second opt-out change.
      const existing = s.messageByProviderId.get({
        provider: event.provider,
        providerMessageId: event.providerMessageId,
      });
      if (existing) return existing.id;
    }
    return null;
  }

  #ingestOne({ event, optOut }: IngestItem): IngestResult {
    const s = this.#statements;
    const duplicateOf = this.#duplicateOf(event);
    if (duplicateOf !== null) return { outcome: 'duplicate', messageId: duplicateOf };
    const now = this.#now();
    let messageId: string;
    // The app's event, in this transaction: a new message, or a status that moved.
    let change: Status | null;
    if (event.kind === 'inbound_message') {
      messageId = this.#storeInbound(event, now);
      change = 'received';
    } else {
      let numbers;
      ({ messageId, change, numbers } = this.#applyStatus(event, now));
      if (event.recipientOptedOut) {
        // A failure receipt saying the recipient opted out of our sender is recorded like a refusal at send time:
        // the recipient and the number the message went from, in the receipt's own transaction.
        const phone = event.to ?? numbers.to;
        const ourNumber = event.from ?? numbers.from;
        if (phone !== '' && ourNumber !== '') {
          s.addOptOut.run({ phone, ourNumber, provider: event.provider, createdAt: now });
        }
      }
    }
    s.insertEvent.run({
      messageId,
      dedupeKey: event.dedupeKey,
      provider: event.provider,
      status: event.kind === 'inbound_message' ? 'received' : event.status,
      providerStatus: event.providerStatus,
      recipient: event.kind === 'status' ? event.to : null,
      errorCode: event.kind === 'status' ? event.errorCode : null,
      errorMessage: event.kind === 'status' ? event.errorMessage : null,
      occurredAt: event.occurredAt,
      receivedAt: now,
      providerTime: event.kind === 'status' ? (event.providerTime ?? null) : null,
    });
    if (optOut === 'add' && event.kind === 'inbound_message') {
      s.addOptOut.run({ phone: event.from, ourNumber: event.to, provider: event.provider, createdAt: now });
    } else if (optOut === 'remove' && event.kind === 'inbound_message') {
      s.removeOptOut.run({ phone: event.from, ourNumber: event.to });
    }
    if (change !== null) this.#events.emit(messageId, eventTypeFor(change), now);
    return { outcome: 'stored', messageId };
  }

  #storeInbound(event: InboundMessageEvent, now: number): string {
    return insertMessage(this.#statements, {
      provider: event.provider,
      providerMessageId: event.providerMessageId,
      direction: 'inbound',
      channel: event.channel,
      fromNumber: event.from,
      toNumber: event.to,
      cc: event.cc,
      body: event.body,
      media: event.media,
      status: 'received',
      providerStatus: event.providerStatus,
      segments: event.segments,
      encoding: event.encoding,
      errorCode: null,
      errorMessage: null,
      statusCallback: null,
      createdBy: null,
      now,
    });
  }

  /** The message's id and numbers, and its new status when the event changed it. */
  #applyStatus(
    event: StatusEvent,
    now: number,
  ): { messageId: string; change: Status | null; numbers: { from: string; to: string } } {
    const existing = this.#statements.messageByProviderId.get({
      provider: event.provider,
      providerMessageId: event.providerMessageId,
    });
    if (!existing) {
      // A callback for a message this gateway has no row for (sent directly through the carrier, or racing the
      // send pipeline's own write): record the message from what the callback says rather than drop the event.
      const status = advanceStatus('queued', event.status);
      const messageId = insertMessage(this.#statements, {
        provider: event.provider,
        providerMessageId: event.providerMessageId,
        direction: 'outbound',
        channel: event.channel,
        fromNumber: event.from ?? '',
        toNumber: event.to ?? '',
        cc: [],
        body: event.body ?? '',
        media: [],
        status,
        providerStatus: event.status === null ? null : event.providerStatus,
        segments: event.segments,
        encoding: event.encoding,
        errorCode: event.errorCode,
        errorMessage: event.errorMessage,
        statusCallback: null,
        createdBy: null,
        now,
      });
      return {
        messageId,
        change: status === 'queued' ? null : status,
        numbers: { from: event.from ?? '', to: event.to ?? '' },
      };
    }
    const next = advanceStatus(existing.status as Status, event.status);
    if (next !== existing.status) {
      this.#statements.updateStatus.run({
        id: existing.id,
        status: next,
        providerStatus: event.providerStatus,
        errorCode: event.errorCode ?? existing.errorCode,
        errorMessage: event.errorMessage ?? existing.errorMessage,
        updatedAt: now,
      });
    }
    return {
      messageId: existing.id,
      change: next !== existing.status ? next : null,
      numbers: { from: existing.fromNumber, to: existing.toNumber },
    };
  }

  getMessage(id: string): Owned<MessageWithEvents> | null {
    const row = this.#db.select().from(messages).where(eq(messages.id, id)).get();
    if (!row) return null;
    const events = this.#db
      .select()
      .from(messageEvents)
      .where(eq(messageEvents.messageId, id))
      // In the order they reached us: carriers stamp events coarsely (Twilio RawDlrDoneDate has minutes) or not at all.
      .orderBy(asc(messageEvents.id))
      .all();
    const attempts = this.#db
      .select()
      .from(sendAttempts)
      .where(eq(sendAttempts.messageId, id))
      .orderBy(asc(sendAttempts.id))
      .all();
    const message = toMessage(row);
    const history = events.map((e) => ({
      status: e.status as Status | null,
      providerStatus: e.providerStatus,
      provider: e.provider as Message['provider'],
      recipient: e.recipient,
      errorCode: e.errorCode,
      errorMessage: e.errorMessage,
      occurredAt: new Date(e.occurredAt).toISOString(),
      providerTime: e.providerTime,
    }));
    // Not stored (see send-pipeline.ts): a message of the send pipeline (it has tries, or has not gone out yet)
    // starts queued, when it was created. A message only known from carrier callbacks has no such entry.
    if (message.direction === 'outbound' && (attempts.length > 0 || message.providerMessageId === null)) {
      history.unshift({
        status: 'queued',
        providerStatus: 'queued',
        provider: (attempts[0]?.provider as Message['provider'] | undefined) ?? message.provider,
        recipient: message.to,
        errorCode: null,
        errorMessage: null,
        occurredAt: message.createdAt,
        providerTime: null,
      });
    }
    return {
      ...message,
      createdBy: row.createdBy,
      events: history,
      attempts: attempts.map((a) => ({
        provider: a.provider as Message['provider'],
        outcome: a.outcome as SendAttempt['outcome'],
        errorClass: a.errorClass,
        errorCode: a.errorCode,
        errorMessage: a.errorMessage,
        httpStatus: a.httpStatus,
        providerMessageId: a.providerMessageId,
        startedAt: new Date(a.startedAt).toISOString(),
        durationMs: a.durationMs,
      })),
    };
  }

  loadOutbox(provider: ProviderId, afterId: string | null, limit: number): OutboxItem[] {
    return this.#sending.loadOutbox(provider, afterId, limit);
  }

  listMessages(filter: MessageFilter, page: { cursor?: string; limit: number }): Page<Owned<Message>> {
    const where: SQL[] = [];
    if (filter.direction) where.push(eq(messages.direction, filter.direction));
    if (filter.status) where.push(eq(messages.status, filter.status));
    if (filter.provider) where.push(eq(messages.provider, filter.provider));
    if (filter.channel) where.push(eq(messages.channel, filter.channel));
    if (filter.from) where.push(eq(messages.fromNumber, filter.from));
    if (filter.to) where.push(eq(messages.toNumber, filter.to));
    // Ids are UUIDv7: the smallest id of the `since` millisecond bounds the range (no index on created_at).
    if (filter.since !== undefined) where.push(gte(messages.id, firstIdAt(filter.since)));
    if (page.cursor !== undefined) where.push(lt(messages.id, decodeCursor(page.cursor)));
    const rows = this.#db
      .select()
      .from(messages)
      .where(and(...where))
      .orderBy(desc(messages.id))
      .limit(page.limit + 1)
      .all();
    const hasMore = rows.length > page.limit;
    const data = (hasMore ? rows.slice(0, page.limit) : rows).map((row) => ({
      ...toMessage(row),
      createdBy: row.createdBy,
    }));
    const last = data.at(-1);
    return { data, nextCursor: hasMore && last ? encodeCursor(last.id) : null };
  }

  loadDueDeliveries(
    endpointId: string,
    now: number,
    exclude: readonly number[],
    limit: number,
    allowance?: LaneAllowance,
  ): PendingDelivery[] {
    return this.#events.loadDue(endpointId, now, exclude, limit, allowance);
  }

  loadDeliveryOf(endpointId: string, messageId: string): PendingDelivery | null {
    return this.#events.loadDeliveryOf(endpointId, messageId);
  }

  /** Deliveries created since the last call. */
  takeCreatedDeliveries(): number {
    return this.#events.takeCreated();
  }

  listEndpoints(): EndpointState[] {
    return this.#events.listEndpoints();
  }

  listApiKeys(): ApiKeyRecord[] {
    return this.#apiKeys.list();
  }

  listEvents(filter: EventFilter, page: { cursor?: string; limit: number }): Page<EventSummary> {
    return this.#eventQueries.list(filter, page);
  }

  getEvent(id: string): StoredEventDetail | null {
    return this.#eventQueries.get(id);
  }

  isOptedOut(phone: string, ourNumber: string): boolean {
    return this.#sending.isOptedOut(phone, ourNumber);
  }

  optedOutAmong(phones: readonly string[], ourNumber: string): string[] {
    return phones.filter((phone) => this.#sending.isOptedOut(phone, ourNumber));
  }

  existingIdempotencyKeys(keys: readonly string[]): string[] {
    return this.#sending.existingIdempotencyKeys(keys);
  }

  ping(): void {
    this.#sqlite.prepare('SELECT 1').get();
  }

  close(): void {
    if (this.#sqlite.open) this.#sqlite.close();
  }
}
