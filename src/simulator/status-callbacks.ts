import { TELNYX_DELIVERY_ERRORS, TWILIO_DELIVERY_ERRORS } from './carrier-errors.js';
import { uuid } from './ids.js';
import type { PendingWork } from './pending-work.js';
import { telnyxMessagePayload } from './telnyx-api.js';
import { telnyxEventBody, type TelnyxSigner } from './telnyx-webhooks.js';
import {
  signedTwilioRequest,
  twilioConnectionOverrides,
  twilioStatusParams,
  type TwilioAccount,
} from './twilio-webhooks.js';
import type { SimulatedMessage } from './types.js';
import type { WebhookJob, WebhookSender } from './webhook-sender.js';

/** How long the carriers wait for a webhook's answer: Twilio up to 15 s, Telnyx about 2 s. */
export const CARRIER_WEBHOOK_TIMEOUT_MS = { twilio: 15_000, telnyx: 2_000 } as const;

export interface StatusCallbackOptions {
  enabled: boolean;
  sentDelayMs: number;
  deliveredDelayMs: number;
  /** Overrides the carriers' own timeouts. */
  timeoutMs: number | undefined;
}

/** What becomes of an accepted message, decided when it is accepted. */
export interface MessageFate {
  /** Until it leaves the carrier's queue (0: at once), or until it fails in it; its first callback comes after. */
  delayMs: number;
  /** The error code of its final callback when it fails (a deliveryFailures entry, a full queue, expiry). */
  failureCode?: string;
}

/** One callback of a message's life: its status word and the webhook job that reports it. */
interface Step {
  status: string;
  job(at: number): WebhookJob;
}

/**
 * Plays out an accepted message's life as status callbacks: `sent` sentDelayMs after it leaves the carrier's queue
 * (at once unless it had to wait for its sender's rate), then the final outcome
 * deliveredDelayMs after the `sent` callback was dealt with (so the two arrive in order unless a retry reorders
 * them, as with the real carriers). A message that never left the carrier (Twilio `failed`, Telnyx
 * `sending_failed`) gets only its final callback. Posting goes through the WebhookSender's bounded queue.
 */
export class StatusCallbacks {
  readonly #options: StatusCallbackOptions;
  readonly #sender: WebhookSender;
  readonly #pending: PendingWork;
  readonly #twilio: TwilioAccount;
  readonly #telnyx: TelnyxSigner;
  readonly #now: () => number;
  readonly #receiptUtcOffsetMinutes: () => number;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(deps: {
    options: StatusCallbackOptions;
    sender: WebhookSender;
    pending: PendingWork;
    twilio: TwilioAccount;
    telnyx: TelnyxSigner;
    now: () => number;
    /** Read when a Twilio receipt is built: the faults can change it between messages. */
    receiptUtcOffsetMinutes: () => number;
  }) {
    this.#options = deps.options;
    this.#sender = deps.sender;
    this.#pending = deps.pending;
    this.#twilio = deps.twilio;
    this.#telnyx = deps.telnyx;
    this.#now = deps.now;
    this.#receiptUtcOffsetMinutes = deps.receiptUtcOffsetMinutes;
  }

  schedule(message: SimulatedMessage, fate: MessageFate): void {
    if (!this.#options.enabled || message.statusCallback === null) return;
    const steps =
      message.provider === 'twilio'
        ? this.#twilioSteps(message, fate.failureCode)
        : this.#telnyxSteps(message, fate.failureCode);
    this.#runStep(message, steps, 0, fate.delayMs + this.#options.sentDelayMs);
  }

  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #runStep(message: SimulatedMessage, steps: Step[], index: number, delayMs: number): void {
    const step = steps[index];
    if (step === undefined) return;
    this.#pending.add();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      message.status = step.status;
      try {
        const job = step.job(this.#now());
        job.onDone = () => this.#runStep(message, steps, index + 1, this.#options.deliveredDelayMs);
        // Queued before this timer's share is released, so callbacksIdle() cannot resolve in between.
        this.#sender.enqueue(job);
      } catch {
        // Building a callback cannot fail on the simulator's own data; if it ever did, the message's callbacks
        // stop here rather than throwing out of a timer.
      } finally {
        this.#pending.done();
      }
    }, delayMs);
    this.#timers.add(timer);
  }

  #twilioSteps(message: SimulatedMessage, failureCode: string | undefined): Step[] {
    const overrides = twilioConnectionOverrides(message.statusCallback ?? '');
    const job =
      (status: string, error?: { code: string; message: string }) =>
      (at: number): WebhookJob => {
        const params = twilioStatusParams(
          this.#twilio,
          message,
          status,
          at,
          this.#receiptUtcOffsetMinutes(),
          error,
        );
        // Same body and signature on every attempt, as Twilio retries.
        const request = signedTwilioRequest(this.#twilio.authToken, overrides.url, params);
        return {
          urls: [overrides.url],
          ...(overrides.retries === undefined ? {} : { maxAttempts: overrides.retries + 1 }),
          timeoutMs: overrides.timeoutMs ?? this.#options.timeoutMs ?? CARRIER_WEBHOOK_TIMEOUT_MS.twilio,
          build: () => request,
        };
      };
    if (failureCode === undefined)
      return [
        { status: 'sent', job: job('sent') },
        { status: 'delivered', job: job('delivered') },
      ];
    const failure = TWILIO_DELIVERY_ERRORS[failureCode] ?? {
      status: 'undelivered',
      message: 'Unknown error',
    };
    const final = {
      status: failure.status,
      job: job(failure.status, { code: failureCode, message: failure.message }),
    };
    return failure.status === 'failed' ? [final] : [{ status: 'sent', job: job('sent') }, final];
  }

  #telnyxSteps(message: SimulatedMessage, failureCode: string | undefined): Step[] {
    const urls = [message.statusCallback, message.webhookFailoverUrl].filter((u): u is string => u !== null);
    let sentAt: number | undefined;
    const event =
      (
        type: 'message.sent' | 'message.finalized',
        toStatus: string,
        errors?: { code: string; title: string; detail: string }[],
      ) =>
      (at: number): WebhookJob => {
        if (type === 'message.sent') sentAt = at;
        const payload = telnyxMessagePayload(message, {
          toStatus,
          ...(sentAt === undefined ? {} : { sentAt }),
          ...(type === 'message.finalized' ? { completedAt: at } : {}),
          ...(errors ? { errors } : {}),
        });
        // Retries and the failover keep the event id (receivers dedupe on it) but count attempts and re-sign.
        const id = uuid();
        return {
          urls,
          timeoutMs: this.#options.timeoutMs ?? CARRIER_WEBHOOK_TIMEOUT_MS.telnyx,
          build: (url, attempt) =>
            this.#telnyx.request(
              url,
              telnyxEventBody({ id, type, occurredAt: at, payload }, attempt, url),
              this.#now(),
            ),
        };
      };
    if (failureCode === undefined) {
      return [
        { status: 'sent', job: event('message.sent', 'sent') },
        { status: 'delivered', job: event('message.finalized', 'delivered') },
      ];
    }
    const failure = TELNYX_DELIVERY_ERRORS[failureCode] ?? {
      status: 'delivery_failed',
      title: 'Undeliverable',
      detail: 'The recipient carrier did not accept the message.',
    };
    const errors = [{ code: failureCode, title: failure.title, detail: failure.detail }];
    const final = { status: failure.status, job: event('message.finalized', failure.status, errors) };
    return failure.status === 'sending_failed'
      ? [final]
      : [{ status: 'sent', job: event('message.sent', 'sent') }, final];
  }
}
