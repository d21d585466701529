import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** A caller-chosen token must be as hard to guess as a made one: 256 bits in base64url is 43 characters. */
export const MIN_CONTROL_TOKEN_LENGTH = 43;

/** The dedicated header, for clients that already use Authorization for something else. */
export const CONTROL_TOKEN_HEADER = 'x-simulator-token';

/**
 * The control API's secret. The control API injects signed inbound messages and reads every message body and
 * number, so it must not answer whatever local process or web page finds its port: each start makes a random
 * 256-bit token, which callers present as `Authorization: Bearer <token>` or `X-Simulator-Token: <token>`.
 */
export class ControlToken {
  readonly value: string;
  readonly #digest: Buffer;

  /** @param value a token chosen by the caller (a harness that starts the simulator as a child); else random. */
  constructor(value?: string) {
    if (value !== undefined && (value.length < MIN_CONTROL_TOKEN_LENGTH || /\s/.test(value))) {
      throw new TypeError(
        `the control token must be at least ${MIN_CONTROL_TOKEN_LENGTH} characters without spaces`,
      );
    }
    this.value = value ?? randomBytes(32).toString('base64url');
    this.#digest = digest(this.value);
  }

  /** Whether the request carries the token. Compared as SHA-256 digests in constant time (equal lengths). */
  authorizes(headers: IncomingHttpHeaders): boolean {
    const presented = presentedToken(headers);
    return presented !== null && timingSafeEqual(digest(presented), this.#digest);
  }
}

function presentedToken(headers: IncomingHttpHeaders): string | null {
  const dedicated = headers[CONTROL_TOKEN_HEADER];
  if (typeof dedicated === 'string' && dedicated !== '') return dedicated;
  const authorization = headers.authorization;
  if (authorization === undefined) return null;
  const match = /^Bearer +(\S+)\s*$/i.exec(authorization);
  return match?.[1] ?? null;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
