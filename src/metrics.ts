import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Dispatcher } from './core/dispatcher.js';
import type { DeliveryAttemptRecord } from './core/events.js';
import type { ProviderId } from './core/message.js';
import type { NormalizedEvent } from './core/provider.js';
import type { AttemptRecord, SendOutcome } from './core/store.js';
import type { EventDeliverer } from './events/deliverer.js';

/** Webhook refusals that are failed authenticity checks (see core/errors.ts). */
const VERIFICATION_CODES = new Set([
  'signature_missing',
  'signature_invalid',
  'timestamp_invalid',
  'timestamp_out_of_range',
  'account_mismatch',
]);

const BREAKER_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/**
 * The gateway's Prometheus metrics (prom-client), in a registry of its own per app (no process-wide singleton).
 * Core parts report through callbacks (Dispatcher `observe`, EventDeliverer `observe`, InboundGateway
 * `observe`); queue depths and breaker states are read from them when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #webhooks: Counter<'provider' | 'outcome' | 'reason'>;
  readonly #verificationFailures: Counter<'provider' | 'reason'>;
  readonly #sendAttempts: Counter<'provider' | 'outcome' | 'error_class'>;
  readonly #sendDuration: Histogram<'provider'>;
  readonly #finalStatuses: Counter<'provider' | 'status'>;
  readonly #eventDeliveries: Counter<'endpoint' | 'outcome'>;
  /** Per provider: messages delivered, and messages that ended otherwise (for the delivery ratio). */
  readonly #outcomes = new Map<ProviderId, { delivered: number; notDelivered: number }>();

  constructor() {
    const registers = [this.registry];
    this.#webhooks = new Counter({
      name: 'switchboard_webhooks_total',
      help: 'Carrier webhooks by provider and outcome (accepted, duplicate, ignored, rejected with its reason).',
      labelNames: ['provider', 'outcome', 'reason'],
      registers,
    });
    this.#verificationFailures = new Counter({
      name: 'switchboard_webhook_verification_failures_total',
      help: 'Webhooks refused because their signature, timestamp or account did not check out.',
      labelNames: ['provider', 'reason'],
      registers,
    });
    this.#sendAttempts = new Counter({
      name: 'switchboard_send_attempts_total',
      help: 'Send decisions by provider, outcome (accepted, retry, failover, failed) and error class.',
      labelNames: ['provider', 'outcome', 'error_class'],
      registers,
    });
    this.#sendDuration = new Histogram({
      name: 'switchboard_send_duration_seconds',
      help: "Time a carrier's send API took to answer.",
      labelNames: ['provider'],
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#finalStatuses = new Counter({
      name: 'switchboard_message_final_status_total',
      help: 'Outbound messages reaching a final status, by provider (carrier reports and send failures).',
      labelNames: ['provider', 'status'],
      registers,
    });
    this.#eventDeliveries = new Counter({
      name: 'switchboard_event_deliveries_total',
      help: 'Event delivery attempts to app endpoints by outcome (delivered, retry, dead, disabled).',
      labelNames: ['endpoint', 'outcome'],
      registers,
    });
    const outcomes = this.#outcomes;
    new Gauge({
      name: 'switchboard_delivery_ratio',
      help: 'Delivered / messages that reached a final status, per provider, since start.',
      labelNames: ['provider'],
      registers,
      collect() {
        for (const [provider, o] of outcomes) {
          const total = o.delivered + o.notDelivered;
          if (total > 0) this.set({ provider }, o.delivered / total);
        }
      },
    });
  }

  /** Queue depth, in-flight sends and breaker state per provider; deliveries waiting per endpoint. */
  watch(dispatcher: Dispatcher, deliverer: EventDeliverer): void {
    const registers = [this.registry];
    new Gauge({
      name: 'switchboard_send_queue_depth',
      help: 'Outbound messages held for a provider (queued or waiting for a retry).',
      labelNames: ['provider'],
      registers,
      collect() {
        for (const [provider, s] of dispatcher.stats()) this.set({ provider }, s.pending);
      },
    });
    new Gauge({
      name: 'switchboard_send_in_flight',
      help: "Calls to a provider's send API in flight.",
      labelNames: ['provider'],
      registers,
      collect() {
        for (const [provider, s] of dispatcher.stats()) this.set({ provider }, s.inFlight);
      },
    });
    new Gauge({
      name: 'switchboard_circuit_breaker_state',
      help: "A provider's circuit: 0 closed, 1 half-open (probing), 2 open.",
      labelNames: ['provider'],
      registers,
      collect() {
        for (const [provider, s] of dispatcher.stats()) this.set({ provider }, BREAKER_VALUE[s.breaker]);
      },
    });
    new Gauge({
      name: 'switchboard_event_deliveries_pending',
      help: 'Event deliveries held in memory for an endpoint (waiting to be sent, or for a retry).',
      labelNames: ['endpoint'],
      registers,
      collect() {
        for (const [endpoint, s] of deliverer.stats()) this.set({ endpoint }, s.pending);
      },
    });
  }

  /** A webhook's request is done: its facts as the request log has them. */
  webhook(facts: { provider?: unknown; outcome?: unknown; code?: unknown } | null): void {
    const provider = typeof facts?.provider === 'string' ? facts.provider : 'unknown';
    const code = typeof facts?.code === 'string' ? facts.code : '';
    const outcome = typeof facts?.outcome === 'string' ? facts.outcome : code ? 'rejected' : 'unknown';
    this.#webhooks.inc({ provider, outcome, reason: outcome === 'rejected' ? code : '' });
    if (VERIFICATION_CODES.has(code)) this.#verificationFailures.inc({ provider, reason: code });
  }

  /** Dispatcher `observe`. */
  sendDecision = (applied: SendOutcome['kind'], attempt: AttemptRecord): void => {
    this.#sendAttempts.inc({
      provider: attempt.provider,
      outcome: applied,
      error_class: attempt.errorClass ?? '',
    });
    // A decision without a call (an open circuit) took no carrier time.
    if (attempt.errorClass !== 'circuit_open') {
      this.#sendDuration.observe({ provider: attempt.provider }, attempt.durationMs / 1000);
    }
    if (applied === 'failed') this.#final(attempt.provider, 'failed');
  };

  /**
   * InboundGateway `observe`: a carrier's final status reports count towards the delivery ratio (`read`, which
   * follows `delivered`, is not counted again).
   */
  stored = (event: NormalizedEvent): void => {
    if (event.kind !== 'status') return;
    const { status } = event;
    if (status === 'delivered' || status === 'undelivered' || status === 'failed')
      this.#final(event.provider, status);
  };

  /** EventDeliverer `observe`. */
  eventDelivery = (endpoint: string, outcome: DeliveryAttemptRecord['outcome']): void => {
    this.#eventDeliveries.inc({ endpoint, outcome });
  };

  #final(provider: ProviderId, status: 'delivered' | 'undelivered' | 'failed'): void {
    this.#finalStatuses.inc({ provider, status });
    const o = this.#outcomes.get(provider) ?? { delivered: 0, notDelivered: 0 };
    if (status === 'delivered') o.delivered += 1;
    else o.notDelivered += 1;
    this.#outcomes.set(provider, o);
  }
}
