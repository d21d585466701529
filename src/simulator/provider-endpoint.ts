import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Answer, CarrierDialect, SendRequest } from './carrier.js';
import { defaultFaults, mergeFaults, seededRandom } from './faults.js';
import { BodyTooLargeError, readBody, writeAnswer } from './http-io.js';
import { SenderQueues } from './sender-queues.js';
import type { MessageFate } from './status-callbacks.js';
import { TokenBucket } from './token-bucket.js';
import type { ProviderFaults, SimulatedMessage, SimulatorStats } from './types.js';

export interface EndpointDeps {
  now: () => number;
  seed: number;
  /** Latency timers, cleared by close(). */
  timers: Set<NodeJS.Timeout>;
  /** Keeps a request that will never be answered, until the client gives up or close() destroys it. */
  hold(res: ServerResponse): void;
  /** @param fate when it leaves the queue and how it ends, beyond the recipient's deliveryFailures entry */
  onAccepted(message: SimulatedMessage, fate: MessageFate): void;
}

/**
 * One carrier's send endpoint: the request passes the faults in a fixed order, then the carrier's own checks, then
 * the sender's queue. Every decision is made when the request arrives (so the limits see the arrival rate); only
 * the answer waits for latencyMs.
 *
 * Order: scripted fault, authFailure, credentials, API request rate, down, timeoutRate / errorRate (one PRNG draw
 * per request that gets this far), request validation, recipientErrors, the sender's queue (mps), accept.
 *
 * Rate has two meanings here, as at the carriers. The API request rate (requests per second, whatever their size)
 * is refused with 429. The sending rate (segments per second per sender) is never refused as such: a message sent
 * too fast waits in its sender's queue and goes later; only a full queue refuses (or fails) it.
 */
export class ProviderEndpoint {
  readonly dialect: CarrierDialect;
  stats: SimulatorStats = emptyStats();
  #faults: ProviderFaults = defaultFaults();
  #queues: SenderQueues | null = null;
  #requestBucket: TokenBucket | null = null;
  #random: () => number;
  readonly #deps: EndpointDeps;

  constructor(dialect: CarrierDialect, deps: EndpointDeps) {
    this.dialect = dialect;
    this.#deps = deps;
    this.#random = this.#seeded();
  }

  get faults(): ProviderFaults {
    return this.#faults;
  }

  setFaults(patch: Partial<ProviderFaults>): void {
    this.#faults = mergeFaults(this.#faults, patch);
    // A new limit starts afresh: empty queues, a full bucket (messages already queued keep their times).
    if (patch.mps !== undefined)
      this.#queues = this.#faults.mps === null ? null : new SenderQueues(this.#faults.mps);
    if (patch.apiRequestsPerSecond !== undefined) {
      const rate = this.#faults.apiRequestsPerSecond;
      this.#requestBucket = rate === null ? null : new TokenBucket(rate, this.#deps.now);
    }
  }

  /** Back to no faults; the PRNG restarts from the seed so a test sequence repeats exactly. */
  resetFaults(): void {
    this.#faults = defaultFaults();
    this.#queues = null;
    this.#requestBucket = null;
    this.#random = this.#seeded();
  }

  resetStats(): void {
    this.stats = emptyStats();
  }

  async handleSend(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        this.stats.requests += 1;
        this.#respond(res, this.dialect.error(413));
      }
      // Otherwise the client went away mid-request: nobody to answer.
      return;
    }
    this.stats.requests += 1;
    const faults = this.#faults;

    const scripted = faults.script.shift();
    if (scripted !== undefined) {
      const options =
        scripted.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: scripted.retryAfterSeconds };
      return this.#respond(res, this.dialect.error(scripted.status, scripted.code, options));
    }
    if (faults.authFailure) return this.#respond(res, this.dialect.error(401));
    const denied = this.dialect.checkAuth(req, path);
    if (denied !== null) return this.#respond(res, denied);
    const requests = this.#requestBucket;
    if (requests !== null && !requests.tryTake(1)) {
      const retryAfter = requests.secondsUntil(1);
      const limit = Math.max(1, Math.floor(requests.rate));
      return this.#respond(
        res,
        this.dialect.rateLimited(retryAfter, { limit, remaining: 0, resetSeconds: retryAfter }),
      );
    }
    if (faults.down) return this.#respond(res, this.dialect.error(503));
    if (faults.timeoutRate > 0 || faults.errorRate > 0) {
      const draw = this.#random();
      if (draw < faults.timeoutRate) {
        this.stats.timeouts += 1;
        this.#deps.hold(res);
        return;
      }
      if (draw < faults.timeoutRate + faults.errorRate) return this.#respond(res, this.dialect.error(500));
    }

    const parsed = this.dialect.parse(req, raw);
    if (!parsed.ok) return this.#respond(res, parsed.answer);
    const request = parsed.request;
    const recipientError = faults.recipientErrors[request.to];
    if (recipientError !== undefined)
      return this.#respond(res, this.dialect.recipientError(recipientError, request.to));
    const now = this.#deps.now();
    const validityMs =
      Math.min(
        request.validitySeconds ?? Infinity,
        faults.validitySeconds ?? this.dialect.queue.validitySeconds,
      ) * 1000;
    const queued = this.#queue(request, validityMs, now);
    if ('refuse' in queued) return this.#respond(res, queued.refuse);
    const { departsAt } = queued;
    let fate = queued.fate;
    const failure = faults.deliveryFailures[request.to];
    if (fate.failureCode === undefined && failure !== undefined) fate = { ...fate, failureCode: failure };

    const message: SimulatedMessage = {
      provider: this.dialect.provider,
      id: this.dialect.newMessageId(request.mediaUrls.length > 0),
      from: request.from,
      to: request.to,
      ...(request.cc !== undefined && { cc: request.cc }),
      body: request.body,
      mediaUrls: request.mediaUrls,
      segments: request.segments,
      encoding: request.encoding,
      messagingProfileId: request.messagingProfileId,
      messagingServiceSid: request.messagingServiceSid,
      statusCallback: request.statusCallback,
      webhookFailoverUrl: request.webhookFailoverUrl,
      acceptedAt: now,
      departsAt,
      validUntil: now + validityMs,
      status: request.initialStatus,
    };
    this.#deps.onAccepted(message, fate);
    this.#respond(res, this.dialect.accepted(message, request));
  }

  /** The message's place in its sender's queue: when it leaves, or how the carrier refuses or fails it. */
  #queue(
    request: SendRequest,
    validityMs: number,
    now: number,
  ): { refuse: Answer } | { fate: MessageFate; departsAt: number | null } {
    if (this.#queues === null) return { fate: { delayMs: 0 }, departsAt: now };
    const policy = this.dialect.queue;
    const place = this.#queues.place(policy.sender(request), request.segments, now);
    if (place.waitMs > (this.#faults.maxQueueSeconds ?? policy.maxQueueSeconds) * 1000) {
      this.stats.queueFull += 1;
      const full = policy.queueFull(request);
      // Accepted and failed at once, or refused: either way it never joins the queue.
      return 'refuse' in full ? full : { fate: { delayMs: 0, failureCode: full.failWith }, departsAt: null };
    }
    if (place.waitMs > validityMs) {
      // It would still be waiting when its validity ends: it fails then, having taken no sending time.
      this.stats.expired += 1;
      return { fate: { delayMs: validityMs, failureCode: policy.expired(request) }, departsAt: null };
    }
    place.take();
    if (place.waitMs > 0) this.stats.queued += 1;
    return { fate: { delayMs: place.waitMs }, departsAt: place.departsAt };
  }

  #respond(res: ServerResponse, answer: Answer): void {
    if (answer.status === 429) this.stats.rateLimited += 1;
    else if (answer.status >= 400) this.stats.errors += 1;
    else this.stats.accepted += 1;
    const latency = this.#faults.latencyMs;
    if (latency <= 0) {
      writeAnswer(res, answer);
      return;
    }
    const timer = setTimeout(() => {
      this.#deps.timers.delete(timer);
      writeAnswer(res, answer);
    }, latency);
    this.#deps.timers.add(timer);
  }

  #seeded(): () => number {
    // Each carrier draws from its own sequence, so one carrier's traffic does not change the other's faults.
    return seededRandom(this.#deps.seed ^ (this.dialect.provider === 'twilio' ? 0x7717 : 0x7e1e));
  }
}

function emptyStats(): SimulatorStats {
  return {
    requests: 0,
    accepted: 0,
    rateLimited: 0,
    errors: 0,
    timeouts: 0,
    queued: 0,
    queueFull: 0,
    expired: 0,
  };
}
