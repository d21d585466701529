import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Answer, CarrierDialect, SendRequest } from './carrier.js';
import { defaultFaults, mergeFaults, seededRandom } from './faults.js';
import { BodyTooLargeError, readBody, writeAnswer } from './http-io.js';
import { TokenBucket } from './token-bucket.js';
import type { ProviderFaults, SimulatedMessage, SimulatorStats } from './types.js';

export interface EndpointDeps {
  now: () => number;
  seed: number;
  /** Latency timers, cleared by close(). */
  timers: Set<NodeJS.Timeout>;
  /** Keeps a request that will never be answered, until the client gives up or close() destroys it. */
  hold(res: ServerResponse): void;
  onAccepted(message: SimulatedMessage, request: SendRequest): void;
}

/**
 * One carrier's send endpoint: the request passes the faults in a fixed order, then the carrier's own checks, then
 * the rate limit. Every decision is made when the request arrives (so the limit sees the arrival rate); only the
 * answer waits for latencyMs.
 *
 * Order: scripted fault, authFailure, credentials, down, timeoutRate / errorRate (one PRNG draw per request that
 * gets this far), request validation, recipientErrors, rate limit, accept.
 */
export class ProviderEndpoint {
  readonly dialect: CarrierDialect;
  stats: SimulatorStats = emptyStats();
  #faults: ProviderFaults = defaultFaults();
  #bucket: TokenBucket | null = null;
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
    // A new limit starts with a full bucket.
    if (patch.mps !== undefined)
      this.#bucket = this.#faults.mps === null ? null : new TokenBucket(this.#faults.mps, this.#deps.now);
  }

  /** Back to no faults; the PRNG restarts from the seed so a test sequence repeats exactly. */
  resetFaults(): void {
    this.#faults = defaultFaults();
    this.#bucket = null;
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
    // A refused request takes no tokens.
    if (this.#bucket !== null && !this.#bucket.tryTake(request.segments)) {
      return this.#respond(res, this.dialect.rateLimited(this.#bucket.secondsUntil(request.segments)));
    }

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
      acceptedAt: this.#deps.now(),
      status: request.initialStatus,
    };
    this.#deps.onAccepted(message, request);
    this.#respond(res, this.dialect.accepted(message, request));
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
  return { requests: 0, accepted: 0, rateLimited: 0, errors: 0, timeouts: 0 };
}
