import type { Message, Status } from '../core/message.js';
import type { EnqueueResult, NewOutboundMessage } from '../core/store.js';
import type { messages } from './sqlite/schema.js';

export type MessageRow = typeof messages.$inferSelect;

/** A stored row as the API shows it: times as ISO 8601. */
export function toMessage(row: MessageRow): Message {
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
    statusCallback: row.statusCallback,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
    redactedAt: row.redactedAt === null ? null : new Date(row.redactedAt).toISOString(),
  };
}

/** An enqueue result as it crosses from the store's worker: a stored message as its id and creation time only. */
export type EnqueueWire =
  | {
      outcome: 'stored';
      id: string;
      createdAt: number;
      /** The cc stored, when it is not the one asked for (participants who opted out were left out). */
      cc?: string[];
    }
  | Exclude<EnqueueResult, { outcome: 'stored' }>;

/** The message a `stored` enqueue result stands for, rebuilt where the request is known (the facade). */
export function queuedMessage(
  item: NewOutboundMessage,
  stored: { id: string; createdAt: number; cc?: string[] },
): Message {
  const { id, createdAt } = stored;
  const iso = new Date(createdAt).toISOString();
  return {
    id,
    provider: item.provider,
    providerMessageId: null,
    direction: 'outbound',
    channel: item.channel,
    from: item.from,
    to: item.to,
    cc: stored.cc ?? item.cc,
    body: item.body,
    media: item.media,
    status: 'queued',
    providerStatus: null,
    segments: item.segments,
    encoding: item.encoding,
    errorCode: null,
    errorMessage: null,
    statusCallback: item.statusCallback,
    createdAt: iso,
    updatedAt: iso,
    redactedAt: null,
  };
}
