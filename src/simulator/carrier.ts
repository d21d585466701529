import type { IncomingMessage } from 'node:http';
import type { SimProvider, SimulatedMessage } from './types.js';

/** A complete HTTP answer in the carrier's dialect; the body is always JSON. */
export interface Answer {
  status: number;
  body: string;
  /** Sent as Retry-After (seconds). */
  retryAfterSeconds?: number;
  /** Extra headers, e.g. WWW-Authenticate. */
  headers?: Record<string, string>;
}

/** A send request as the carrier understood it, before the faults and the sender's queue have their say. */
export interface SendRequest extends Omit<
  SimulatedMessage,
  'provider' | 'id' | 'acceptedAt' | 'departsAt' | 'validUntil' | 'status'
> {
  /** The status in the send answer (Twilio: `accepted` for a Messaging Service without From, else `queued`). */
  initialStatus: string;
  /** Whether the sender was named (Twilio answers `from: null` when it will pick one from a service's pool). */
  senderGiven: boolean;
  /** How long the message may wait in the carrier's queue, when the request says (Twilio ValidityPeriod). */
  validitySeconds?: number;
}

export type Parsed = { ok: true; request: SendRequest } | { ok: false; answer: Answer };

export type Route = 'send' | 'not-found' | 'method-not-allowed';

/**
 * A carrier's sender queue (see sender-queues.ts): how much sending it holds, how long a message may wait in it,
 * and what the carrier does with a message it cannot send in time. Each dialect answers in its own words.
 */
export interface QueuePolicy {
  /** Seconds of sending one sender's queue holds (the `maxQueueSeconds` fault overrides it). */
  readonly maxQueueSeconds: number;
  /** How long a queued message may wait before it fails, unless the request or the faults say less. */
  readonly validitySeconds: number;
  /** The queue the request joins: its sender (a number, or the pool a sender is picked from). */
  sender(request: SendRequest): string;
  /** Past maxQueueSeconds: refused at the API, or accepted and then failed with a delivery error code. */
  queueFull(request: SendRequest): { refuse: Answer } | { failWith: string };
  /** The delivery error of a message that waited past its validity. */
  expired(request: SendRequest): string;
}

/**
 * What differs between Twilio and Telnyx: URLs, authentication, request and answer shapes, error bodies. Everything
 * else (faults, rate limits, queues, records, callbacks) is shared and lives in provider-endpoint.ts.
 */
export interface CarrierDialect {
  readonly provider: SimProvider;
  route(method: string, path: string): Route;
  /** null when the request's credentials (and, for Twilio, the account in the path) are right. */
  checkAuth(req: IncomingMessage, path: string): Answer | null;
  parse(req: IncomingMessage, body: Buffer): Parsed;
  /** The carrier's error answer for a status, with its code for it unless `code` is given. */
  error(
    status: number,
    code?: string,
    options?: { to?: string; retryAfterSeconds?: number; path?: string },
  ): Answer;
  /** The carrier's error for a number listed in recipientErrors. */
  recipientError(code: string, to: string): Answer;
  /**
   * Over the account's API request rate (requests per second, not segments: those are queued, see `queue`).
   * `window` describes the limit, for carriers that report it in headers.
   */
  rateLimited(
    retryAfterSeconds: number,
    window?: { limit: number; remaining: number; resetSeconds: number },
  ): Answer;
  /** The carrier's sender queue. */
  readonly queue: QueuePolicy;
  newMessageId(hasMedia: boolean): string;
  accepted(message: SimulatedMessage, request: SendRequest): Answer;
}
