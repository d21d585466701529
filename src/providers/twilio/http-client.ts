import twilio from 'twilio';
import { parseRetryAfter } from '../retry-after.js';

type RequestOptions<T> = Parameters<InstanceType<typeof twilio.RequestClient>['request']>[0] & { data?: T };
type SdkResponse<T> = Awaited<ReturnType<InstanceType<typeof twilio.RequestClient>['request']>> & { body: T };

/** Where the Twilio SDK sends REST calls: its resources build absolute URLs on this origin. */
export const TWILIO_API_ORIGIN = 'https://api.twilio.com';

/** A Twilio API error answer, with the Retry-After the SDK's own RestException does not keep. */
export class TwilioApiError extends twilio.RestException {
  /** From the Retry-After header, when the answer carried one. */
  readonly retryAfterMs: number | null;

  constructor(response: { statusCode: number; body: unknown; headers?: unknown }) {
    super(response);
    this.name = 'TwilioApiError';
    this.retryAfterMs = parseRetryAfter(header(response.headers, 'retry-after'));
  }
}

export interface TwilioHttpClientOptions {
  /** Replaces https://api.twilio.com (the simulator, a proxy); null keeps Twilio's own. */
  baseUrl: string | null;
  /** Per request, in milliseconds. */
  timeoutMs: number;
}

/**
 * The Twilio SDK's own HTTP client, through its public `httpClient` option, with two changes:
 *
 * - The SDK has no base-URL setting (only edge/region on twilio.com), so requests to https://api.twilio.com are
 *   re-pointed at `baseUrl` here. Everything else (form encoding, auth, headers) stays the SDK's.
 * - An error answer is thrown as a TwilioApiError, which keeps Retry-After. The SDK would build a RestException
 *   from the same answer, but without headers.
 */
export class TwilioHttpClient extends twilio.RequestClient {
  readonly #baseUrl: string | null;

  constructor(options: TwilioHttpClientOptions) {
    // The SDK's own retry on 429 stays off: the dispatcher retries, with jitter, across providers.
    super({ timeout: options.timeoutMs, keepAlive: true, autoRetry: false });
    this.#baseUrl = options.baseUrl === null ? null : options.baseUrl.replace(/\/+$/, '');
  }

  override async request<TData>(opts: RequestOptions<TData>): Promise<SdkResponse<TData>> {
    const uri =
      this.#baseUrl !== null && opts.uri.startsWith(TWILIO_API_ORIGIN)
        ? this.#baseUrl + opts.uri.slice(TWILIO_API_ORIGIN.length)
        : opts.uri;
    const response = await super.request({ ...opts, uri });
    if (response.statusCode >= 400) throw new TwilioApiError(response);
    return response;
  }
}

function header(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}
