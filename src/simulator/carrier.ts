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

/** A send request as the carrier understood it, before the faults and the rate limit have their say. */
export interface SendRequest extends Omit<SimulatedMessage, 'provider' | 'id' | 'acceptedAt' | 'status'> {
  /** The status in the send answer (Twilio: `accepted` for a Messaging Service without From, else `queued`). */
  initialStatus: string;
  /** Whether the sender was named (Twilio answers `from: null` when it will pick one from a service's pool). */
  senderGiven: boolean;
}

export type Parsed = { ok: true; request: SendRequest } | { ok: false; answer: Answer };

export type Route = 'send' | 'not-found' | 'method-not-allowed';

/**
 * What differs between Twilio and Telnyx: URLs, authentication, request and answer shapes, error bodies. Everything
 * else (faults, rate limit, records, callbacks) is shared and lives in provider-endpoint.ts.
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
  /** Over the rate limit. */
  rateLimited(retryAfterSeconds: number): Answer;
  newMessageId(hasMedia: boolean): string;
  accepted(message: SimulatedMessage, request: SendRequest): Answer;
}
