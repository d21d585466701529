import type { Message, Status } from './message.js';
import type { Page } from './store.js';

/**
 * What Switchboard tells apps, as signed Standard Webhooks requests (see events/ and the README, Receiving
 * events). Every event is stored in the transaction that made its change; deliveries to each endpoint follow.
 */
export const EVENT_TYPES = ['message.received', 'message.status', 'message.failed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** The event a message's new status makes: a failure has its own type so an app can subscribe to failures only. */
export function eventTypeFor(status: Status): EventType {
  if (status === 'received') return 'message.received';
  return status === 'failed' || status === 'undelivered' ? 'message.failed' : 'message.status';
}

/** The body of every event request (and `payload` in the events API): the message as it was after the change. */
export interface EventPayload {
  id: string;
  type: EventType;
  /** When the change was stored (ISO 8601). */
  timestamp: string;
  data: Message;
}

export const DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/**
 * The endpoint of messages' own status callbacks (`statusCallback` in the send API): each delivery goes to its
 * message's URL. Exists when APP_WEBHOOK_SECRET is set (callbacks are signed like every event).
 */
export const STATUS_CALLBACK_ENDPOINT = 'status-callback';

/** What an endpoint is as configuration says (SWITCHBOARD_CONFIG `endpoints`, or APP_WEBHOOK_URL). */
export interface EndpointDefinition {
  id: string;
  url: string;
  events: EventType[];
}

/** An endpoint as the API lists it: its definition, whether it is enabled, and its backlog. */
export interface EndpointState extends EndpointDefinition {
  enabled: boolean;
  /** Why it was disabled (`disabled through the API`, `the endpoint answered 410 Gone`); null when enabled. */
  disabledReason: string | null;
  /** Deliveries waiting (to be sent, or for a retry). */
  pending: number;
  /** Deliveries that ran out of retries. */
  dead: number;
  updatedAt: string;
}

/** A delivery the deliverer has to make, with the bytes to send. */
export interface PendingDelivery {
  id: number;
  eventId: string;
  messageId: string;
  endpointId: string;
  /** Overrides the endpoint's URL (a message's statusCallback); null: the endpoint's. */
  url: string | null;
  /**
   * The order key: one delivery at a time per (endpoint, conversation), in id order. The other party's number; on
   * the status-callback endpoint, the message's id (its own callbacks wait for nothing else).
   */
  conversation: string;
  /**
   * Whose share of the endpoint it takes (the deliverer's lanes): on the status-callback endpoint the API key that
   * sent the message ('' when unknown), so that one client's silent callbacks cannot fill the endpoint's memory or
   * its requests in flight; '' on the operator's endpoints.
   */
  laneKey: string;
  type: EventType;
  /** Attempts made so far. */
  attempts: number;
  /** Milliseconds since the epoch. */
  nextAttemptAt: number;
  /** The request body, exactly as stored (it is what is signed). */
  payload: string;
}

/** How many due heads one load may take per lane key (EventStore.loadDueDeliveries). */
export interface LaneAllowance {
  /** Lanes with an allowance of their own; the others have `others`. */
  lanes: readonly ({ laneKey: string } & LaneShare)[];
  others: LaneShare;
}

export interface LaneShare {
  /** Heads taken at most. */
  max: number;
  /** Of those, how many are taken whatever the load's `limit` (the first in due order). */
  floor: number;
}

/** One POST of an event to an endpoint, as recorded. */
export interface DeliveryAttemptRecord {
  /** delivered (2xx), retry (another attempt is scheduled), dead (no attempts left), disabled (410 Gone). */
  outcome: 'delivered' | 'retry' | 'dead' | 'disabled';
  /** The endpoint's HTTP status; null when there was no answer (refused, timed out). */
  statusCode: number | null;
  error: string | null;
  /** Milliseconds since the epoch. */
  startedAt: number;
  durationMs: number;
}

/** What the deliverer learned from one attempt; recorded in one transaction with its effect. */
export interface DeliveryResult {
  deliveryId: number;
  attempt: DeliveryAttemptRecord;
  /** For `retry` (and `disabled`: when to try once the endpoint is enabled again). */
  nextAttemptAt: number;
  /** For `disabled`: the endpoint to disable, and why. */
  disable: { endpointId: string; reason: string } | null;
  /**
   * The app's reply went inline (TwiML): this reply idempotency key is taken with the record, so that no later
   * post of the event queues a second reply. Null otherwise.
   */
  claimReply: string | null;
}

export interface EventFilter {
  type?: EventType;
  messageId?: string;
  /** Milliseconds since the epoch: events created at or after. */
  since?: number;
  /** With `state`: only events with a delivery in that state to this endpoint; alone: with any delivery to it. */
  endpointId?: string;
  state?: DeliveryState;
}

/** An event as the list shows it. */
export interface EventSummary {
  id: string;
  type: EventType;
  messageId: string;
  createdAt: string;
}

export interface DeliveryInfo {
  id: number;
  endpointId: string;
  state: DeliveryState;
  /** Attempts made so far (the records are in `attemptLog`). */
  attempts: number;
  /** ISO 8601; null once delivered or dead. */
  nextAttemptAt: string | null;
  createdAt: string;
  attemptLog: (Omit<DeliveryAttemptRecord, 'startedAt'> & { startedAt: string })[];
}

export interface EventDetail extends EventSummary {
  payload: EventPayload;
  deliveries: DeliveryInfo[];
}

/** An event as the store reads it back, with the API key that sent its message (see Owned in message.ts). */
export interface StoredEventDetail extends EventDetail {
  messageCreatedBy: string | null;
}

/** What recording an attempt did to its delivery. */
export interface RecordedDelivery {
  /** Still pending (another attempt is due later, or its endpoint was disabled); false once delivered, dead or gone. */
  pending: boolean;
  /**
   * When it is no longer pending: its conversation's next pending delivery on that endpoint, now first in line (so
   * the deliverer goes on with it at once); null when there is none, or it is still pending.
   */
  next: PendingDelivery | null;
}

/** The event side of the store (core/store.ts Store extends it). */
export interface EventStore {
  /**
   * Makes the stored endpoints match configuration: new ones are added enabled, changed ones take the new URL and
   * filter and keep their enabled state, ones no longer configured are removed (their deliveries wait in case they
   * come back). Answers the endpoints' states.
   */
  syncEndpoints(endpoints: EndpointDefinition[]): Promise<EndpointState[]>;
  listEndpoints(): Promise<EndpointState[]>;
  /** Null: no such endpoint. A disabled endpoint gets no new deliveries; its pending ones wait. */
  setEndpointEnabled(id: string, enabled: boolean, reason: string | null): Promise<EndpointState | null>;
  /**
   * What an endpoint can send now: the first pending delivery of each of its conversations (nothing behind one is
   * ever sent before it), when it is due: never attempted, or its next attempt is at or before `now`. In the order
   * they became due; at most `limit`, skipping the ids in `exclude` (those the deliverer holds already). With an
   * `allowance`, each lane key takes at most its `max`, and its first `floor` do not count against `limit`; a lane
   * with a `max` of 0 is not read at all.
   */
  loadDueDeliveries(
    endpointId: string,
    now: number,
    exclude: readonly number[],
    limit: number,
    allowance?: LaneAllowance,
  ): Promise<PendingDelivery[]>;
  /** The message's pending delivery to the endpoint if it is first in its conversation; else null (compute mode). */
  loadDeliveryOf(endpointId: string, messageId: string): Promise<PendingDelivery | null>;
  /** An attempt and its effect, in one transaction. */
  recordDelivery(result: DeliveryResult): Promise<RecordedDelivery>;
  /** Newest first. Throws `invalid_cursor` for a cursor it did not issue. */
  listEvents(filter: EventFilter, page: { cursor?: string; limit: number }): Promise<Page<EventSummary>>;
  getEvent(id: string): Promise<StoredEventDetail | null>;
  /**
   * New deliveries of an event: to one endpoint, or (null) to every enabled endpoint whose filter takes it. Null:
   * no such event.
   */
  redeliver(eventId: string, endpointId: string | null): Promise<DeliveryInfo[] | null>;
  /**
   * New deliveries to an endpoint of every event since `since` its filter takes and it has neither received nor
   * has pending. Answers how many.
   */
  replay(endpointId: string, since: number): Promise<number>;
  /** `listener` is called after a commit that created deliveries (a hint to look; the deliverer also polls). */
  onDeliveries(listener: () => void): void;
}
