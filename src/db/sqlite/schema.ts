import { sql } from 'drizzle-orm';
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

// Times are integer milliseconds since the epoch; the API turns them into ISO 8601 strings.

export const messages = sqliteTable(
  'messages',
  {
    // UUIDv7: unique and time-ordered, so `ORDER BY id` is creation order, the id is the pagination cursor, and a
    // time range is an id range (no index on created_at: one index fewer to update for every message).
    id: text('id').primaryKey(),
    provider: text('provider').notNull(),
    providerMessageId: text('provider_message_id'),
    direction: text('direction').notNull(),
    channel: text('channel').notNull(),
    fromNumber: text('from_number').notNull(),
    toNumber: text('to_number').notNull(),
    cc: text('cc', { mode: 'json' })
      .$type<string[]>()
      .notNull()
      .default(sql`'[]'`),
    body: text('body').notNull(),
    media: text('media', { mode: 'json' })
      .$type<{ url: string; contentType: string | null }[]>()
      .notNull()
      .default(sql`'[]'`),
    status: text('status').notNull(),
    providerStatus: text('provider_status'),
    segments: integer('segments'),
    encoding: text('encoding'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    // Outbound: where the app asked for this message's status changes (delivered by the event pipeline).
    statusCallback: text('status_callback'),
    // Outbound through the API: the id of the API key that sent it (its statusCallback is shown in full to that key
    // and to admin keys only). Null for inbound messages, replies and messages stored before it was kept.
    createdBy: text('created_by'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    // When REDACT_BODIES_AFTER_DAYS (or `db prune`) emptied the body and media (src/db/retention.ts); null: never.
    redactedAt: integer('redacted_at'),
  },
  (t) => [
    uniqueIndex('messages_provider_message_id').on(t.provider, t.providerMessageId),
    index('messages_from').on(t.fromNumber),
    index('messages_to').on(t.toNumber),
    index('messages_status').on(t.status),
  ],
);

export const messageEvents = sqliteTable(
  'message_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    // Telnyx: data.id (+ recipient); Twilio: MessageSid + status. A second delivery of an event is a no-op.
    dedupeKey: text('dedupe_key').notNull(),
    provider: text('provider').notNull(),
    // Null when the carrier's status has no canonical equivalent; provider_status keeps the carrier's word.
    status: text('status'),
    providerStatus: text('provider_status').notNull(),
    recipient: text('recipient'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    occurredAt: integer('occurred_at').notNull(),
    receivedAt: integer('received_at').notNull(),
    // The carrier's own time for the event as it wrote it (Twilio RawDlrDoneDate: minute precision, no time zone);
    // occurred_at is ours and keeps the history in order.
    providerTime: text('provider_time'),
  },
  (t) => [
    uniqueIndex('message_events_dedupe_key').on(t.dedupeKey),
    index('message_events_message').on(t.messageId),
  ],
);

export const optOuts = sqliteTable(
  'opt_outs',
  {
    // The person who sent STOP, and our number they sent it to.
    phone: text('phone').notNull(),
    ourNumber: text('our_number').notNull(),
    provider: text('provider').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.phone, t.ourNumber] })],
);

/**
 * The send pipeline's source of truth: one row per outbound message a carrier has not yet acknowledged (nor
 * refused for good). Written in the same transaction as the message; deleted in the transaction that records the
 * carrier's answer. At start, every row is sent again.
 */
export const outbox = sqliteTable(
  'outbox',
  {
    messageId: text('message_id')
      .primaryKey()
      .references(() => messages.id, { onDelete: 'cascade' }),
    // The carrier the next try goes to (changes on failover).
    provider: text('provider').notNull(),
    // Tries made on that carrier so far.
    attempts: integer('attempts').notNull(),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  // Each carrier's queue loads its own rows in creation order.
  (t) => [index('outbox_provider').on(t.provider, t.messageId)],
);

/** Every call to a carrier's send API (and every failover decision), for the message's history. */
export const sendAttempts = sqliteTable(
  'send_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    provider: text('provider').notNull(),
    // accepted | retry | failover | failed
    outcome: text('outcome').notNull(),
    // The failure's class (rate_limited, transient, provider, recipient, opted_out, rejected, circuit_open)
    errorClass: text('error_class'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    httpStatus: integer('http_status'),
    providerMessageId: text('provider_message_id'),
    startedAt: integer('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
  },
  (t) => [index('send_attempts_message').on(t.messageId)],
);

/** Idempotency-Key (and queued replies): the first message made under a key, and a hash of the request. */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    key: text('key').primaryKey(),
    requestHash: text('request_hash').notNull(),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
  },
  // Deleting a message (retention) looks up its keys, for the foreign key too: without this index, a full scan of
  // the table per message (a prune step of 200 messages held the write lock 300 ms with 10,000 keys). Its key is
  // the time-ordered message id, so inserts append to the index's last page.
  (t) => [index('idempotency_keys_message').on(t.messageId)],
);

/**
 * What happened to a message, for the apps: `message.received`, `message.status`, `message.failed`. Written in the
 * transaction that made the change, with the payload as it is sent (the message as it was then), so an event is
 * never lost between a change and its delivery, and a redelivery sends the same bytes.
 */
export const events = sqliteTable(
  'events',
  {
    // UUIDv7 (time-ordered: the list's cursor and `since` are id ranges); the Standard Webhooks `webhook-id`.
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    // The other party's number: events of one conversation reach each endpoint in order.
    conversation: text('conversation').notNull(),
    payload: text('payload').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('events_message').on(t.messageId)],
);

/**
 * The apps' endpoints: configuration (SWITCHBOARD_CONFIG, APP_WEBHOOK_URL) says where and what; this table keeps
 * what changes at run time and must survive a restart: whether the endpoint is enabled (the API, or a 410 answer).
 */
export const webhookEndpoints = sqliteTable('webhook_endpoints', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  // JSON array of event types.
  events: text('events', { mode: 'json' }).$type<string[]>().notNull(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull(),
  disabledReason: text('disabled_reason'),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * One event on its way to one endpoint: created with the event (or by a redelivery or replay), `pending` until the
 * endpoint answers 2xx (`delivered`) or the retry schedule runs out (`dead`).
 */
export const eventDeliveries = sqliteTable(
  'event_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    eventId: text('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    endpointId: text('endpoint_id').notNull(),
    // Where to post instead of the endpoint's URL: a message's own statusCallback (endpoint `status-callback`).
    url: text('url'),
    // The delivery order key: the event's conversation (the other party's number); for `status-callback`, the
    // message's id (a message's own callbacks are ordered per message and wait for nothing else).
    conversation: text('conversation').notNull(),
    // pending | delivered | dead
    state: text('state').notNull(),
    attempts: integer('attempts').notNull(),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    // 1 on the first pending delivery (lowest id) of its (endpoint, conversation): the only one that can be sent.
    // Kept by the writes (db/event-writes.ts) and, for deletes, by the trigger event_deliveries_head_deleted.
    head: integer('head').notNull().default(0),
    // Whose share of the endpoint a delivery takes (events/deliverer.ts): on `status-callback`, the API key that sent
    // the message (messages.created_by; '' for messages sent before keys were recorded); '' on other endpoints.
    laneKey: text('lane_key').notNull().default(''),
  },
  (t) => [
    index('event_deliveries_event').on(t.eventId),
    // A conversation's pending deliveries in order: is there one before (insert), which is next (record).
    index('event_deliveries_conversation')
      .on(t.endpointId, t.conversation, t.id)
      .where(sql`state = 'pending'`),
    // The deliverer's loads, per lane key: heads never attempted, in id order, and heads due for a retry, by due
    // time. Both hold heads only (one row per conversation waiting), so a backlog behind a head costs them nothing,
    // and a lane key's heads are reached without reading another's.
    index('event_deliveries_fresh_heads')
      .on(t.endpointId, t.laneKey, t.id, t.nextAttemptAt)
      .where(sql`state = 'pending' AND head = 1 AND attempts = 0`),
    index('event_deliveries_retry_heads')
      .on(t.endpointId, t.laneKey, t.nextAttemptAt, t.id)
      .where(sql`state = 'pending' AND head = 1 AND attempts > 0`),
    // An endpoint's backlog (pending, dead) and the events list's state filter.
    index('event_deliveries_state').on(t.state, t.endpointId),
  ],
);

/** Every POST of an event to an endpoint: what the endpoint answered, how long it took, what went wrong. */
export const deliveryAttempts = sqliteTable(
  'delivery_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    deliveryId: integer('delivery_id')
      .notNull()
      .references(() => eventDeliveries.id, { onDelete: 'cascade' }),
    // delivered | retry | dead | disabled
    outcome: text('outcome').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    startedAt: integer('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
  },
  (t) => [index('delivery_attempts_delivery').on(t.deliveryId)],
);

/**
 * API keys made with `switchboard keys create`: only a SHA-256 of the key is kept. A revoked key stays (with
 * `revoked_at`) so that `keys list` can tell what happened to it.
 */
export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  hash: text('hash').notNull(),
  // JSON array of scopes.
  scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
  rateLimitPerMinute: integer('rate_limit_per_minute'),
  createdAt: integer('created_at').notNull(),
  revokedAt: integer('revoked_at'),
});

/**
 * Written by the readiness check's probe (sqlite-engine.ts `probeWrite`): an empty row inserted and deleted in one
 * committed transaction (one page), so the check proves a commit reaches the disk. Empty between probes.
 */
export const writeProbe = sqliteTable('write_probe', {
  id: integer('id').primaryKey(),
  filler: blob('filler', { mode: 'buffer' }).notNull(),
});

/**
 * The signatures of the Twilio webhooks stored (Store.ingest's replayKey), so that one signature cannot be re-split
 * into other parameters (Twilio signs the URL and the parameters run together, without separators). One row per
 * Twilio webhook and a random key, so it is kept tiny: the first 16 bytes of a SHA-256 of "provider signature",
 * in a WITHOUT ROWID table (one B-tree, the key stored once). Drizzle cannot declare WITHOUT ROWID: the migration's
 * CREATE TABLE says it by hand (test/db/migrations.test.ts checks it). Pruned with the messages (retention), by
 * `received_at`, through the index that also orders them oldest first.
 */
export const webhookSignatures = sqliteTable(
  'webhook_signatures',
  {
    digest: blob('digest', { mode: 'buffer' }).primaryKey(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [index('webhook_signatures_received').on(t.receivedAt, t.digest)],
);
