import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { and, asc, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { v7 as uuidv7 } from 'uuid';
import { SwitchboardError } from '../core/errors.js';
import { advanceStatus, type Message, type MessageWithEvents, type Status } from '../core/message.js';
import type { InboundMessageEvent, StatusEvent } from '../core/provider.js';
import type { IngestItem, IngestResult, MessageFilter, NewOutboundMessage, Page } from '../core/store.js';
import { commitGroup, type Outcome } from './group-commit.js';
import { messageEvents, messages, optOuts } from './schema.js';
import * as schema from './schema.js';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

type Db = BetterSQLite3Database<typeof schema>;
type MessageRow = typeof messages.$inferSelect;
/** Every column given explicitly: the prepared insert binds them all. */
type NewMessageRow = Required<typeof messages.$inferInsert>;

/** A write the engine commits as part of a group. */
export type WriteOp =
  { op: 'ingest'; items: IngestItem[] } | { op: 'queueOutbound'; message: NewOutboundMessage };

export type PragmaName = 'journal_mode' | 'synchronous' | 'foreign_keys' | 'temp_store';

/**
 * The SQLite database itself, synchronous: WAL, synchronous=FULL (a commit survives power loss), migrations applied
 * at open. It runs inside the store's worker thread (see sqlite.ts), so its blocking calls, the fsync of each commit
 * above all, never stall the HTTP event loop.
 */
export class SqliteEngine {
  readonly #sqlite: Database.Database;
  readonly #db: Db;
  readonly #now: () => number;
  readonly #statements;

  /** @param path a file path (its directory is created) or `:memory:` */
  constructor(path: string, now: () => number = Date.now) {
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
    this.#sqlite.pragma('busy_timeout = 5000');
    // Statement journals (for savepoints and multi-row statements) stay in memory instead of temp files.
    this.#sqlite.pragma('temp_store = MEMORY');
    this.#db = drizzle({ client: this.#sqlite, schema });
    migrate(this.#db, { migrationsFolder: MIGRATIONS });
    this.#now = now;
    this.#statements = prepareStatements(this.#db);
  }

  pragma(name: PragmaName): unknown {
    return this.#sqlite.pragma(name, { simple: true });
  }

  /**
   * Commits a group of writes in one transaction (one fsync). Each write succeeds or fails alone; see commitGroup.
   * A write's outcome is returned only after the commit, so it is durable when the caller sees it.
   */
  write(ops: WriteOp[]): Outcome[] {
    return commitGroup(
      this.#sqlite,
      ops.map((op) => () => (op.op === 'ingest' ? this.#ingest(op.items) : this.#queueOutbound(op.message))),
    );
  }

  /** One webhook's events, all or none. */
  #ingest(items: IngestItem[]): IngestResult[] {
    return items.map((item) => this.#ingestOne(item));
  }

  #ingestOne({ event, optOut }: IngestItem): IngestResult {
    const s = this.#statements;
    const seen = s.eventByDedupeKey.get({ key: event.dedupeKey });
    if (seen) return { outcome: 'duplicate', messageId: seen.messageId };
    if (event.kind === 'inbound_message') {
      // The same message under a new event id (a carrier retry with another id) is still one message, already
      // processed: a duplicate, with no second history entry and no second opt-out change.
      const existing = s.messageByProviderId.get({
        provider: event.provider,
        providerMessageId: event.providerMessageId,
      });
      if (existing) return { outcome: 'duplicate', messageId: existing.id };
    }
    const now = this.#now();
    const messageId =
      event.kind === 'inbound_message' ? this.#storeInbound(event, now) : this.#applyStatus(event, now);
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
    });
    if (optOut === 'add' && event.kind === 'inbound_message') {
      s.addOptOut.run({ phone: event.from, ourNumber: event.to, provider: event.provider, createdAt: now });
    } else if (optOut === 'remove' && event.kind === 'inbound_message') {
      s.removeOptOut.run({ phone: event.from, ourNumber: event.to });
    }
    return { outcome: 'stored', messageId };
  }

  #storeInbound(event: InboundMessageEvent, now: number): string {
    return this.#insertMessage({
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
      now,
    });
  }

  #applyStatus(event: StatusEvent, now: number): string {
    const existing = this.#statements.messageByProviderId.get({
      provider: event.provider,
      providerMessageId: event.providerMessageId,
    });
    if (!existing) {
      // A callback for a message this gateway has no row for (sent directly through the carrier, or racing the
      // send pipeline's own write): record the message from what the callback says rather than drop the event.
      return this.#insertMessage({
        provider: event.provider,
        providerMessageId: event.providerMessageId,
        direction: 'outbound',
        channel: event.channel,
        fromNumber: event.from ?? '',
        toNumber: event.to ?? '',
        cc: [],
        body: event.body ?? '',
        media: [],
        status: advanceStatus('queued', event.status),
        providerStatus: event.status === null ? null : event.providerStatus,
        segments: event.segments,
        encoding: event.encoding,
        errorCode: event.errorCode,
        errorMessage: event.errorMessage,
        now,
      });
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
    return existing.id;
  }

  /** Inserts a message row with a new time-ordered id; `now` stamps both creation and update. */
  #insertMessage(row: Omit<NewMessageRow, 'id' | 'createdAt' | 'updatedAt'> & { now: number }): string {
    const id = uuidv7();
    const { now, ...values } = row;
    this.#statements.insertMessage.run({ ...values, id, createdAt: now, updatedAt: now });
    return id;
  }

  #queueOutbound(message: NewOutboundMessage): { messageId: string; outcome: 'stored' | 'duplicate' } {
    const seen = this.#statements.eventByDedupeKey.get({ key: message.dedupeKey });
    if (seen) return { messageId: seen.messageId, outcome: 'duplicate' as const };
    const now = this.#now();
    const id = this.#insertMessage({
      provider: message.provider,
      providerMessageId: null,
      direction: 'outbound',
      channel: message.channel,
      fromNumber: message.from,
      toNumber: message.to,
      cc: [],
      body: message.body,
      media: message.media,
      status: 'queued',
      providerStatus: null,
      segments: message.segments,
      encoding: message.encoding,
      errorCode: null,
      errorMessage: null,
      now,
    });
    this.#statements.insertEvent.run({
      messageId: id,
      dedupeKey: message.dedupeKey,
      provider: message.provider,
      status: 'queued',
      providerStatus: 'queued',
      recipient: message.to,
      errorCode: null,
      errorMessage: null,
      occurredAt: now,
      receivedAt: now,
    });
    return { messageId: id, outcome: 'stored' as const };
  }

  getMessage(id: string): MessageWithEvents | null {
    const row = this.#db.select().from(messages).where(eq(messages.id, id)).get();
    if (!row) return null;
    const events = this.#db
      .select()
      .from(messageEvents)
      .where(eq(messageEvents.messageId, id))
      .orderBy(asc(messageEvents.occurredAt), asc(messageEvents.id))
      .all();
    return {
      ...toMessage(row),
      events: events.map((e) => ({
        status: e.status as Status | null,
        providerStatus: e.providerStatus,
        provider: e.provider as Message['provider'],
        recipient: e.recipient,
        errorCode: e.errorCode,
        errorMessage: e.errorMessage,
        occurredAt: new Date(e.occurredAt).toISOString(),
      })),
    };
  }

  listMessages(filter: MessageFilter, page: { cursor?: string; limit: number }): Page<Message> {
    const where: SQL[] = [];
    if (filter.direction) where.push(eq(messages.direction, filter.direction));
    if (filter.status) where.push(eq(messages.status, filter.status));
    if (filter.provider) where.push(eq(messages.provider, filter.provider));
    if (filter.channel) where.push(eq(messages.channel, filter.channel));
    if (filter.from) where.push(eq(messages.fromNumber, filter.from));
    if (filter.to) where.push(eq(messages.toNumber, filter.to));
    if (filter.since !== undefined) where.push(gte(messages.createdAt, filter.since));
    if (page.cursor !== undefined) where.push(lt(messages.id, decodeCursor(page.cursor)));
    const rows = this.#db
      .select()
      .from(messages)
      .where(and(...where))
      .orderBy(desc(messages.id))
      .limit(page.limit + 1)
      .all();
    const hasMore = rows.length > page.limit;
    const data = (hasMore ? rows.slice(0, page.limit) : rows).map(toMessage);
    const last = data.at(-1);
    return { data, nextCursor: hasMore && last ? encodeCursor(last.id) : null };
  }

  isOptedOut(phone: string, ourNumber: string): boolean {
    return this.#statements.optOut.get({ phone, ourNumber }) !== undefined;
  }

  ping(): void {
    this.#sqlite.prepare('SELECT 1').get();
  }

  close(): void {
    if (this.#sqlite.open) this.#sqlite.close();
  }
}

function prepareStatements(db: Db) {
  const p = sql.placeholder;
  return {
    eventByDedupeKey: db
      .select({ messageId: messageEvents.messageId })
      .from(messageEvents)
      .where(eq(messageEvents.dedupeKey, p('key')))
      .prepare(),
    messageByProviderId: db
      .select({
        id: messages.id,
        status: messages.status,
        errorCode: messages.errorCode,
        errorMessage: messages.errorMessage,
      })
      .from(messages)
      .where(
        and(eq(messages.provider, p('provider')), eq(messages.providerMessageId, p('providerMessageId'))),
      )
      .prepare(),
    insertMessage: db
      .insert(messages)
      .values({
        id: p('id'),
        provider: p('provider'),
        providerMessageId: p('providerMessageId'),
        direction: p('direction'),
        channel: p('channel'),
        fromNumber: p('fromNumber'),
        toNumber: p('toNumber'),
        cc: p('cc'),
        body: p('body'),
        media: p('media'),
        status: p('status'),
        providerStatus: p('providerStatus'),
        segments: p('segments'),
        encoding: p('encoding'),
        errorCode: p('errorCode'),
        errorMessage: p('errorMessage'),
        createdAt: p('createdAt'),
        updatedAt: p('updatedAt'),
      })
      .prepare(),
    insertEvent: db
      .insert(messageEvents)
      .values({
        messageId: p('messageId'),
        dedupeKey: p('dedupeKey'),
        provider: p('provider'),
        status: p('status'),
        providerStatus: p('providerStatus'),
        recipient: p('recipient'),
        errorCode: p('errorCode'),
        errorMessage: p('errorMessage'),
        occurredAt: p('occurredAt'),
        receivedAt: p('receivedAt'),
      })
      .prepare(),
    updateStatus: db
      .update(messages)
      .set({
        status: sql`${p('status')}`,
        providerStatus: sql`${p('providerStatus')}`,
        errorCode: sql`${p('errorCode')}`,
        errorMessage: sql`${p('errorMessage')}`,
        updatedAt: sql`${p('updatedAt')}`,
      })
      .where(eq(messages.id, p('id')))
      .prepare(),
    addOptOut: db
      .insert(optOuts)
      .values({
        phone: p('phone'),
        ourNumber: p('ourNumber'),
        provider: p('provider'),
        createdAt: p('createdAt'),
      })
      .onConflictDoNothing()
      .prepare(),
    removeOptOut: db
      .delete(optOuts)
      .where(and(eq(optOuts.phone, p('phone')), eq(optOuts.ourNumber, p('ourNumber'))))
      .prepare(),
    optOut: db
      .select({ phone: optOuts.phone })
      .from(optOuts)
      .where(and(eq(optOuts.phone, p('phone')), eq(optOuts.ourNumber, p('ourNumber'))))
      .prepare(),
  };
}

function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    provider: row.provider as Message['provider'],
    providerMessageId: row.providerMessageId,
    direction: row.direction as Message['direction'],
    channel: row.channel as Message['channel'],
    from: row.fromNumber,
    to: row.toNumber,
    cc: row.cc,
    body: row.body,
    media: row.media,
    status: row.status as Status,
    providerStatus: row.providerStatus,
    segments: row.segments,
    encoding: row.encoding as Message['encoding'],
    errorCode: row.errorCode,
    errorMessage: row.errorMessage,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

// The cursor is the last id of the page, wrapped so clients treat it as opaque.
function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!UUID.test(id)) throw new SwitchboardError('invalid_cursor');
  return id;
}
