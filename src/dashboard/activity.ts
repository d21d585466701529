import type { DeliveryAttemptRecord } from '../core/events.js';
import type { NormalizedEvent } from '../core/provider.js';
import type { AttemptRecord, SendOutcome } from '../core/store.js';

/**
 * What the dashboard shows live: counts and rates per provider, failures by error code, throughput per minute
 * over the last hour. Fed by the same observer callbacks as the metrics (see app.ts).
 *
 * STUB: to be written (issue 5, item 5).
 */
export class Activity {
  constructor(readonly now: () => number = Date.now) {}

  /** InboundGateway `observe`: a new inbound message or carrier status report was stored. */
  stored = (_event: NormalizedEvent, _messageId: string): void => {};

  /** Dispatcher `observe`: a send try's decision was recorded. */
  sendDecision = (_applied: SendOutcome['kind'], _attempt: AttemptRecord): void => {};

  /** EventDeliverer `observe`: an event delivery attempt was recorded. */
  eventDelivery = (_endpointId: string, _outcome: DeliveryAttemptRecord['outcome']): void => {};
}
