import { setTimeout as sleep } from 'node:timers/promises';
import { parseRetryAfter } from '../providers/retry-after.js';
import { withoutCredentials } from '../core/url-credentials.js';
import { CliError } from './command.js';
import { printable } from './output.js';

/** Where a running gateway is and the key to use: --url/--key, else SWITCHBOARD_URL/SWITCHBOARD_API_KEY. */
export interface ClientOptions {
  url?: string;
  key?: string;
}

export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
} as const;

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** 429s waited out for one request before giving up (each waits its Retry-After). */
const MAX_RATE_LIMITED_WAITS = 20;

/**
 * The gateway's API over HTTP, as an app would use it. Errors come back as `{ error: { code, message } }`. A 429
 * (the key's rate limit) is waited out and the request sent again, so every command keeps the limit.
 */
export class ApiClient {
  readonly base: string;
  readonly #key: string;
  /** Told before each wait for the rate limit (a progress bar shows it). */
  onRateLimited: (waitMs: number) => void = () => {};

  constructor(options: ClientOptions, env: NodeJS.ProcessEnv = process.env) {
    const url = options.url ?? env.SWITCHBOARD_URL ?? `http://127.0.0.1:${env.PORT ?? '3000'}`;
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      throw new CliError(
        `The gateway URL must be an http(s) URL, got "${printable(withoutCredentials(url))}".`,
        2,
      );
    }
    const { username, password } = new URL(url);
    if (username !== '' || password !== '') {
      // fetch refuses them anyway; the API key is the credential.
      throw new CliError(
        `The gateway URL must not carry a user name or password (${withoutCredentials(url)}): the API key ` +
          'authenticates (--key, SWITCHBOARD_API_KEY).',
        2,
      );
    }
    const key = options.key ?? env.SWITCHBOARD_API_KEY;
    if (!key) {
      throw new CliError(
        'No API key: set SWITCHBOARD_API_KEY or pass --key (create one with: switchboard keys create).',
        2,
      );
    }
    this.base = url.replace(/\/+$/, '');
    this.#key = key;
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    for (let waits = 0; ; waits++) {
      const response = await this.#once<T>(method, path, body, headers);
      if (response.status !== 429 || waits >= MAX_RATE_LIMITED_WAITS) return response;
      const waitMs = retryAfterMs(response.headers);
      this.onRateLimited(waitMs);
      await sleep(waitMs);
    }
  }

  async #once<T>(method: string, path: string, body: unknown, headers: Record<string, string>) {
    let response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#key}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CliError(
        `Cannot reach the gateway at ${this.base} (${cause}). Is it running (switchboard serve)?`,
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): kept as text.
    }
    return { status: response.status, headers: response.headers, body: parsed as T } satisfies ApiResponse<T>;
  }

  /** A request that must succeed (2xx); otherwise the gateway's error, as the operator should read it. */
  async expect<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request<T>(method, path, body);
    if (response.status >= 200 && response.status < 300) return response.body;
    throw new CliError(describeError(response));
  }
}

/** `code: message (HTTP status)` from the gateway's error body. */
export function describeError(response: ApiResponse<unknown>): string {
  const error = (response.body as { error?: { code?: string; message?: string } } | null)?.error;
  // The gateway quotes what it was sent (a number, a field) and a proxy may answer anything: printed escaped.
  return error?.code
    ? `${printable(error.code)}: ${printable(error.message ?? '')} (HTTP ${response.status})`
    : `HTTP ${response.status}: ${printable(String(response.body).slice(0, 200))}`;
}

/** How long to wait after a 429, from Retry-After (seconds or an HTTP date); 1 s when it says nothing usable. */
function retryAfterMs(headers: Headers): number {
  const ms = parseRetryAfter(headers.get('retry-after'));
  return ms !== null && ms > 0 ? ms : 1000;
}
