import type { Message, Status } from '../core/message.js';
import type { messages } from './schema.js';

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
  };
}
