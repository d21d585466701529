import type { DeliveryAttemptRecord } from '../core/events.js';
import type { NormalizedEvent } from '../core/provider.js';
import type { AttemptRecord, SendOutcome } from '../core/store.js';

/** One bucket of the throughput series and of the rates: a minute. */
export const BUCKET_MS = 60_000;
/** Buckets kept: the chart covers the last hour. */
export const BUCKETS = 60;
/** Rates are averaged over this many minutes (fewer while the process is younger). */
export const RATE_WINDOW_MINUTES = 5;
/** Distinct (provider, error code) rows kept; beyond it the one seen least recently is dropped. */
export const MAX_FAILURE_ROWS = 200;
/** Distinct endpoints counted (endpoints come from configuration, so this is never reached in practice). */
const MAX_ENDPOINTS = 200;

/** What is counted per provider. */
export interface ProviderCounts {
  /** Inbound messages stored (duplicates of a carrier's retry are not counted: they are not stored). */
  inbound: number;
  /** Outbound messages the carrier accepted (its send API answered with an id). */
  accepted: number;
  /** Carrier reports: delivered. */
  delivered: number;
  /** Carrier reports: undelivered. */
  undelivered: number;
  /** Carrier reports of failed, plus our sends that failed for good (the carrier refused, every try used up). */
  failed: number;
  /** Tries that failed and will be tried again on the same carrier. */
  retries: number;
  /** Messages moved to another carrier. */
  failovers: number;
}

const COUNT_KEYS = [
  'inbound',
  'accepted',
  'delivered',
  'undelivered',
  'failed',
  'retries',
  'failovers',
] as const satisfies readonly (keyof ProviderCounts)[];

export type ProviderRates = Record<'inbound' | 'accepted' | 'delivered' | 'failed', number>;

export interface ProviderActivity {
  provider: string;
  counts: ProviderCounts;
  /** Per minute over the last RATE_WINDOW_MINUTES minutes (or since start, when that is shorter; at least 1). */
  ratesPerMinute: ProviderRates;
  /** delivered / (delivered + undelivered + failed); null until a message reached a final status. */
  deliveryRatio: number | null;
}

/** Failures with one error code on one provider. */
export interface FailureRow {
  provider: string;
  /** The carrier's code (`21211`, `40300`), ours for network failures (`timeout`), else the failure class. */
  code: string;
  /** Our class of the failure (`recipient`, `transient`, `circuit_open`...); null for a carrier's report. */
  errorClass: string | null;
  /** Tries that failed with it and were tried again (retry or failover). */
  retried: number;
  /** Messages that ended with it: sends that failed for good, carrier reports of undelivered or failed. */
  failed: number;
  /** ISO 8601. */
  lastAt: string;
  lastMessage: string | null;
}

/** Event delivery attempts to one endpoint, by outcome. */
export type DeliveryCounts = Record<DeliveryAttemptRecord['outcome'], number>;

/** Messages per minute for one provider and direction (outbound: accepted by the carrier). */
export interface ThroughputSeries {
  provider: string;
  direction: 'inbound' | 'outbound';
  /** BUCKETS values, oldest first; the last is the current (partial) minute. */
  points: number[];
}

export interface ActivitySummary {
  /** ISO 8601: when counting began (this process's start). */
  since: string;
  providers: ProviderActivity[];
  /** Most recent first. */
  failures: FailureRow[];
  deliveries: { endpointId: string; attempts: DeliveryCounts }[];
  throughput: {
    bucketMs: number;
    /** ISO 8601: the start of the first bucket. */
    start: string;
    series: ThroughputSeries[];
  };
  /** Changes whenever an event delivery attempt is recorded (lets a reader cache what depends on them). */
  deliveryAttempts: number;
}

interface Bucket {
  /** Minutes since the epoch this bucket holds; a slot whose minute is not the one asked for is empty. */
  minute: number;
  counts: Map<string, ProviderCounts>;
}

interface Failure {
  provider: string;
  code: string;
  errorClass: string | null;
  retried: number;
  failed: number;
  lastAt: number;
  lastMessage: string | null;
}

const zero = (): ProviderCounts => ({
  inbound: 0,
  accepted: 0,
  delivered: 0,
  undelivered: 0,
  failed: 0,
  retries: 0,
  failovers: 0,
});

/**
 * What the dashboard shows live: counts and rates per provider, the delivery ratio, failures by error code and
 * throughput per minute over the last hour. Fed by the same observer callbacks as the metrics (see app.ts), and
 * counted the same way (src/metrics.ts): the delivery ratio is carrier reports of delivered against reports of
 * undelivered or failed plus our sends that failed for good.
 *
 * In memory, since this process started: a restart begins again from zero (the database holds the messages, not
 * these counts). Memory is bounded: totals per provider, BUCKETS one-minute buckets in a ring, at most
 * MAX_FAILURE_ROWS failure rows. Recording is a few map updates: the callbacks run on the send and webhook paths.
 */
export class Activity {
  readonly startedAt: number;
  readonly #totals = new Map<string, ProviderCounts>();
  readonly #ring: (Bucket | undefined)[] = new Array<Bucket | undefined>(BUCKETS);
  readonly #failures = new Map<string, Failure>();
  readonly #deliveries = new Map<string, DeliveryCounts>();
  #deliveryAttempts = 0;

  constructor(readonly now: () => number = Date.now) {
    this.startedAt = now();
  }

  /** InboundGateway `observe`: a new inbound message or carrier status report was stored. */
  stored = (event: NormalizedEvent, _messageId: string): void => {
    if (event.kind === 'inbound_message') {
      this.#count(event.provider, 'inbound');
      return;
    }
    // `read` follows `delivered` and is not counted again; other statuses are progress, not outcomes.
    const { status } = event;
    if (status === 'delivered') this.#count(event.provider, 'delivered');
    else if (status === 'undelivered' || status === 'failed') {
      this.#count(event.provider, status);
      this.#failure(event.provider, event.errorCode ?? status, null, 'failed', event.errorMessage);
    }
  };

  /** Dispatcher `observe`: a send try's decision was recorded (with what the store applied). */
  sendDecision = (applied: SendOutcome['kind'], attempt: AttemptRecord): void => {
    const { provider } = attempt;
    if (applied === 'accepted') {
      this.#count(provider, 'accepted');
      return;
    }
    this.#count(provider, applied === 'retry' ? 'retries' : applied === 'failover' ? 'failovers' : 'failed');
    this.#failure(
      provider,
      attempt.errorCode ?? attempt.errorClass ?? 'unknown',
      attempt.errorClass,
      applied === 'failed' ? 'failed' : 'retried',
      attempt.errorMessage,
    );
  };

  /** EventDeliverer `observe`: an event delivery attempt was recorded. */
  eventDelivery = (endpointId: string, outcome: DeliveryAttemptRecord['outcome']): void => {
    this.#deliveryAttempts += 1;
    let counts = this.#deliveries.get(endpointId);
    if (counts === undefined) {
      if (this.#deliveries.size >= MAX_ENDPOINTS) return;
      counts = { delivered: 0, retry: 0, dead: 0, disabled: 0 };
      this.#deliveries.set(endpointId, counts);
    }
    counts[outcome] += 1;
  };

  /** Everything counted, as of now. `providers` are listed even with nothing counted yet (configured ones). */
  summary(providers: readonly string[] = []): ActivitySummary {
    const now = this.now();
    const current = Math.floor(now / BUCKET_MS);
    const first = current - BUCKETS + 1;
    const names = [...new Set([...providers, ...this.#totals.keys()])];

    const windowStart = Math.max(this.startedAt, (current - RATE_WINDOW_MINUTES + 1) * BUCKET_MS);
    const windowMinutes = Math.max((now - windowStart) / BUCKET_MS, 1);
    const rate = (n: number) => Math.round((n / windowMinutes) * 100) / 100;

    const series: ThroughputSeries[] = [];
    const activity: ProviderActivity[] = names.map((provider) => {
      const inbound: number[] = [];
      const outbound: number[] = [];
      const windowed = zero();
      for (let minute = first; minute <= current; minute++) {
        const counts = this.#bucket(minute)?.counts.get(provider);
        inbound.push(counts?.inbound ?? 0);
        outbound.push(counts?.accepted ?? 0);
        if (counts && minute > current - RATE_WINDOW_MINUTES) {
          for (const key of COUNT_KEYS) windowed[key] += counts[key];
        }
      }
      series.push({ provider, direction: 'outbound', points: outbound });
      series.push({ provider, direction: 'inbound', points: inbound });
      const counts = { ...(this.#totals.get(provider) ?? zero()) };
      const final = counts.delivered + counts.undelivered + counts.failed;
      return {
        provider,
        counts,
        ratesPerMinute: {
          inbound: rate(windowed.inbound),
          accepted: rate(windowed.accepted),
          delivered: rate(windowed.delivered),
          failed: rate(windowed.failed + windowed.undelivered),
        },
        deliveryRatio: final === 0 ? null : counts.delivered / final,
      };
    });

    return {
      since: new Date(this.startedAt).toISOString(),
      providers: activity,
      failures: [...this.#failures.values()]
        .sort((a, b) => b.lastAt - a.lastAt)
        .map((f) => ({ ...f, lastAt: new Date(f.lastAt).toISOString() })),
      deliveries: [...this.#deliveries].map(([endpointId, attempts]) => ({
        endpointId,
        attempts: { ...attempts },
      })),
      throughput: { bucketMs: BUCKET_MS, start: new Date(first * BUCKET_MS).toISOString(), series },
      deliveryAttempts: this.#deliveryAttempts,
    };
  }

  #count(provider: string, key: keyof ProviderCounts): void {
    let total = this.#totals.get(provider);
    if (total === undefined) this.#totals.set(provider, (total = zero()));
    total[key] += 1;

    const minute = Math.floor(this.now() / BUCKET_MS);
    const slot = ((minute % BUCKETS) + BUCKETS) % BUCKETS;
    let bucket = this.#ring[slot];
    if (bucket?.minute !== minute) this.#ring[slot] = bucket = { minute, counts: new Map() };
    let counts = bucket.counts.get(provider);
    if (counts === undefined) bucket.counts.set(provider, (counts = zero()));
    counts[key] += 1;
  }

  #bucket(minute: number): Bucket | undefined {
    const bucket = this.#ring[((minute % BUCKETS) + BUCKETS) % BUCKETS];
    return bucket?.minute === minute ? bucket : undefined;
  }

  #failure(
    provider: string,
    code: string,
    errorClass: string | null,
    kind: 'retried' | 'failed',
    message: string | null,
  ): void {
    const key = `${provider}\u0000${code}`;
    let row = this.#failures.get(key);
    if (row === undefined) {
      row = { provider, code, errorClass, retried: 0, failed: 0, lastAt: 0, lastMessage: null };
    } else {
      // Re-inserted below, so the map stays in order of last sight and the first entry is the stalest.
      this.#failures.delete(key);
    }
    row[kind] += 1;
    row.lastAt = this.now();
    row.lastMessage = message ?? row.lastMessage;
    if (errorClass !== null) row.errorClass = errorClass;
    this.#failures.set(key, row);
    if (this.#failures.size > MAX_FAILURE_ROWS) {
      const stalest = this.#failures.keys().next().value;
      if (stalest !== undefined) this.#failures.delete(stalest);
    }
  }
}
