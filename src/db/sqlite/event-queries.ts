import { and, asc, desc, eq, gte, inArray, lt, type SQL } from 'drizzle-orm';
import type {
  DeliveryInfo,
  EventFilter,
  EventPayload,
  EventSummary,
  EventType,
  StoredEventDetail,
} from '../../core/events.js';
import type { Page } from '../../core/store.js';
import { toDeliveryInfo } from './event-writes.js';
import { decodeCursor, encodeCursor, firstIdAt } from '../ids.js';
import { deliveryAttempts, eventDeliveries, events, messages } from './schema.js';
import type { Db } from './statements.js';

/** The events API's reads (not on a hot path: through drizzle). */
export class EventQueries {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  list(filter: EventFilter, page: { cursor?: string; limit: number }): Page<EventSummary> {
    const where: SQL[] = [];
    if (filter.type) where.push(eq(events.type, filter.type));
    if (filter.messageId) where.push(eq(events.messageId, filter.messageId));
    if (filter.since !== undefined) where.push(gte(events.id, firstIdAt(filter.since)));
    if (page.cursor !== undefined) where.push(lt(events.id, decodeCursor(page.cursor)));
    if (filter.endpointId !== undefined || filter.state !== undefined) {
      // Driven from the deliveries' (state, endpoint) index: dead or pending deliveries are few among many.
      const match: SQL[] = [];
      if (filter.state) match.push(eq(eventDeliveries.state, filter.state));
      if (filter.endpointId) match.push(eq(eventDeliveries.endpointId, filter.endpointId));
      where.push(
        inArray(
          events.id,
          this.#db
            .select({ id: eventDeliveries.eventId })
            .from(eventDeliveries)
            .where(and(...match)),
        ),
      );
    }
    const rows = this.#db
      .select({ id: events.id, type: events.type, messageId: events.messageId, createdAt: events.createdAt })
      .from(events)
      .where(and(...where))
      .orderBy(desc(events.id))
      .limit(page.limit + 1)
      .all();
    const hasMore = rows.length > page.limit;
    const data = (hasMore ? rows.slice(0, page.limit) : rows).map(toSummary);
    const last = data.at(-1);
    return { data, nextCursor: hasMore && last ? encodeCursor(last.id) : null };
  }

  get(id: string): StoredEventDetail | null {
    const row = this.#db.select().from(events).where(eq(events.id, id)).get();
    if (!row) return null;
    const deliveries = this.#db
      .select()
      .from(eventDeliveries)
      .where(eq(eventDeliveries.eventId, id))
      .orderBy(asc(eventDeliveries.id))
      .all();
    const attempts =
      deliveries.length === 0
        ? []
        : this.#db
            .select()
            .from(deliveryAttempts)
            .where(
              inArray(
                deliveryAttempts.deliveryId,
                deliveries.map((d) => d.id),
              ),
            )
            .orderBy(asc(deliveryAttempts.id))
            .all();
    const info: DeliveryInfo[] = deliveries.map((d) =>
      toDeliveryInfo(
        d,
        attempts
          .filter((a) => a.deliveryId === d.id)
          .map((a) => ({
            outcome: a.outcome as DeliveryInfo['attemptLog'][number]['outcome'],
            statusCode: a.statusCode,
            error: a.error,
            startedAt: new Date(a.startedAt).toISOString(),
            durationMs: a.durationMs,
          })),
      ),
    );
    const owner = this.#db
      .select({ createdBy: messages.createdBy })
      .from(messages)
      .where(eq(messages.id, row.messageId))
      .get();
    return {
      ...toSummary(row),
      payload: JSON.parse(row.payload) as EventPayload,
      deliveries: info,
      messageCreatedBy: owner?.createdBy ?? null,
    };
  }
}

function toSummary(row: { id: string; type: string; messageId: string; createdAt: number }): EventSummary {
  return {
    id: row.id,
    type: row.type as EventType,
    messageId: row.messageId,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}
