import type { LaneStats } from '../core/dispatcher.js';
import type { DeliveryState, EventType } from '../core/events.js';
import { PROVIDER_IDS, type Message } from '../core/message.js';
import type { Store } from '../core/store.js';
import type { Activity, DeliveryCounts, FailureRow, ProviderActivity, ThroughputSeries } from './activity.js';
import { RATE_WINDOW_MINUTES } from './activity.js';

/** Messages in the recent list. */
export const RECENT_MESSAGES = 25;
/** Longest body shown in the recent list (the whole one is in the message's detail). */
const BODY_PREVIEW = 160;
/** Events looked at per delivery state for the recent delivery failures. */
const FAILED_EVENTS_PER_STATE = 10;
/** The failure list is read again at least this often even when no delivery attempt was recorded. */
const EVENT_FAILURES_MAX_AGE_MS = 30_000;

export interface ProviderView extends ProviderActivity {
  /** The carrier's send queue right now; null when this gateway does not send through it. */
  queue: LaneStats | null;
}

export interface EndpointView {
  id: string;
  /** The URL's origin only: its path or query may carry a token. */
  origin: string;
  enabled: boolean;
  disabledReason: string | null;
  /** From the database: deliveries waiting (to be sent or for a retry), and ones that ran out of retries. */
  pending: number;
  dead: number;
  /** Held in memory and in flight right now; null when the deliverer has no lane for it. */
  held: number | null;
  inFlight: number | null;
  /** Attempts since this process started, by outcome. */
  attempts: DeliveryCounts;
}

/** A delivery of an event that is failing (pending after failed attempts) or failed for good (dead). */
export interface EventFailureView {
  eventId: string;
  type: EventType;
  messageId: string;
  endpointId: string;
  state: DeliveryState;
  attempts: number;
  /** Of the last attempt: the endpoint's HTTP status (null: no answer) and the error. */
  statusCode: number | null;
  error: string | null;
  /** ISO 8601: when the last attempt started. */
  at: string;
  /** ISO 8601: the next try, for a pending delivery. */
  nextAttemptAt: string | null;
}

export type MessageRow = Pick<
  Message,
  | 'id'
  | 'direction'
  | 'provider'
  | 'channel'
  | 'from'
  | 'to'
  | 'body'
  | 'status'
  | 'errorCode'
  | 'createdAt'
  | 'updatedAt'
> & { media: number };

/** What the dashboard shows, as GET /dashboard/api/snapshot answers it and the stream sends it. */
export interface DashboardSnapshot {
  generatedAt: string;
  /** When counting began (process start): counts, rates, failures and the chart cover the time since. */
  countingSince: string;
  rateWindowMinutes: number;
  providers: ProviderView[];
  /** Failures by provider and error code, most recently seen first. */
  failures: FailureRow[];
  throughput: { bucketMs: number; start: string; series: ThroughputSeries[] };
  endpoints: EndpointView[];
  eventFailures: EventFailureView[];
  /** Newest first. */
  recentMessages: MessageRow[];
}

export interface SnapshotSources {
  store: Pick<Store, 'listMessages' | 'listEndpoints' | 'listEvents' | 'getEvent'>;
  activity: Activity;
  dispatcher: { stats(): Map<string, LaneStats> };
  deliverer: { stats(): Map<string, { pending: number; inFlight: number; enabled: boolean }> };
  /**
   * A monotonic clock, for the age of the cached failure list (activity.now() is the wall clock: stepped back, it
   * would keep the list for as long). @default performance.now
   */
  monotonic?: () => number;
}

/**
 * Builds snapshots. Counts come from Activity (memory), queues from the dispatcher and deliverer (memory), the
 * rest from the store: a few indexed reads per snapshot. The recent delivery failures take a read per event, so
 * they are read again only when a delivery attempt was recorded since (or every 30 s).
 */
export class SnapshotBuilder {
  readonly #s: SnapshotSources;
  #failures: { attempts: number; at: number; rows: EventFailureView[] } | null = null;

  constructor(sources: SnapshotSources) {
    this.#s = sources;
  }

  async build(): Promise<DashboardSnapshot> {
    const { store, activity, dispatcher, deliverer } = this.#s;
    const lanes = dispatcher.stats();
    const ordered = [...PROVIDER_IDS.filter((id) => lanes.has(id)), ...lanes.keys()];
    const summary = activity.summary(ordered);
    const [recent, endpoints, eventFailures] = await Promise.all([
      store.listMessages({}, { limit: RECENT_MESSAGES }),
      store.listEndpoints(),
      this.#eventFailures(summary.deliveryAttempts),
    ]);
    const held = deliverer.stats();
    const attempts = new Map(summary.deliveries.map((d) => [d.endpointId, d.attempts]));
    return {
      generatedAt: new Date(activity.now()).toISOString(),
      countingSince: summary.since,
      rateWindowMinutes: RATE_WINDOW_MINUTES,
      providers: summary.providers.map((p) => ({ ...p, queue: lanes.get(p.provider) ?? null })),
      failures: summary.failures,
      throughput: summary.throughput,
      endpoints: endpoints.map((e) => ({
        id: e.id,
        origin: originOf(e.url),
        enabled: e.enabled,
        disabledReason: e.disabledReason,
        pending: e.pending,
        dead: e.dead,
        held: held.get(e.id)?.pending ?? null,
        inFlight: held.get(e.id)?.inFlight ?? null,
        attempts: attempts.get(e.id) ?? { delivered: 0, retry: 0, dead: 0, disabled: 0 },
      })),
      eventFailures,
      recentMessages: recent.data.map(toRow),
    };
  }

  async #eventFailures(attempts: number): Promise<EventFailureView[]> {
    const now = this.#s.monotonic?.() ?? performance.now();
    const cached = this.#failures;
    if (cached && cached.attempts === attempts && now - cached.at < EVENT_FAILURES_MAX_AGE_MS) {
      return cached.rows;
    }
    const { store } = this.#s;
    const states: DeliveryState[] = ['dead', 'pending'];
    const pages = await Promise.all(
      states.map((state) => store.listEvents({ state }, { limit: FAILED_EVENTS_PER_STATE })),
    );
    const ids = [...new Set(pages.flatMap((p) => p.data.map((e) => e.id)))];
    const details = await Promise.all(ids.map((id) => store.getEvent(id)));
    const rows: EventFailureView[] = [];
    for (const event of details) {
      if (event === null) continue;
      for (const delivery of event.deliveries) {
        const last = delivery.attemptLog.at(-1);
        // A pending delivery not tried yet is not failing; a delivered one is not either.
        if (delivery.state === 'delivered' || last === undefined || last.outcome === 'delivered') continue;
        rows.push({
          eventId: event.id,
          type: event.type,
          messageId: event.messageId,
          endpointId: delivery.endpointId,
          state: delivery.state,
          attempts: delivery.attempts,
          statusCode: last.statusCode,
          error: last.error,
          at: last.startedAt,
          nextAttemptAt: delivery.nextAttemptAt,
        });
      }
    }
    rows.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    this.#failures = { attempts, at: now, rows };
    return rows;
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

/** At most BODY_PREVIEW characters, counted by code point so that an emoji is never cut in half. */
function preview(body: string): string {
  if (body.length <= BODY_PREVIEW) return body;
  const chars = [...body];
  return chars.length <= BODY_PREVIEW ? body : `${chars.slice(0, BODY_PREVIEW).join('')}…`;
}

function toRow(m: Message): MessageRow {
  return {
    id: m.id,
    direction: m.direction,
    provider: m.provider,
    channel: m.channel,
    from: m.from,
    to: m.to,
    body: preview(m.body),
    status: m.status,
    errorCode: m.errorCode,
    media: m.media.length,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
  };
}
