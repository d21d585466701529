import { SwitchboardError } from './errors.js';
import { parseWellFormedJson } from './unicode.js';

export type FormParams = Record<string, string | string[]>;
export type WebhookContentType = 'form' | 'json';

/**
 * A webhook exactly as it arrived: the external URL the carrier called, the headers, and the raw body bytes.
 * Verification runs over these bytes, so nothing may change them; parsing is lazy and cached because detection,
 * verification and normalization may each need the parsed form. So is the URL: only a carrier that signs it
 * (Twilio) needs it, and rebuilding it can fail on headers no other carrier cares about.
 */
export class RawWebhook {
  readonly method: string;
  /** Lower-cased header names, as Node delivers them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  readonly contentType: WebhookContentType;
  /** Milliseconds since the epoch, when the gateway read the request. */
  readonly receivedAt: number;

  readonly #url: string | (() => string);
  #builtUrl: string | undefined;
  #text: string | undefined;
  #form: FormParams | undefined;
  #json: unknown;
  #jsonParsed = false;

  constructor(init: {
    method: string;
    /** The URL, or how to build it when first asked (it may throw: see `url`). */
    url: string | (() => string);
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
    contentType: WebhookContentType;
    receivedAt: number;
  }) {
    this.method = init.method;
    this.#url = init.url;
    this.headers = init.headers;
    this.body = init.body;
    this.contentType = init.contentType;
    this.receivedAt = init.receivedAt;
  }

  /**
   * Scheme, host, path and query as the carrier called them (see http/external-url.ts), built on first use. Throws
   * a SwitchboardError (`invalid_forwarded_header`, `invalid_request`) when the request's headers cannot make it.
   */
  get url(): string {
    this.#builtUrl ??= typeof this.#url === 'string' ? this.#url : this.#url();
    return this.#builtUrl;
  }

  /** A header's value; a repeated header counts as absent because no carrier repeats the ones we read. */
  header(name: string): string | undefined {
    const value = this.headers[name];
    return typeof value === 'string' ? value : undefined;
  }

  text(): string {
    this.#text ??= this.body.toString('utf8');
    return this.#text;
  }

  /** The form parameters; throws `malformed_body` for a body that is not valid form encoding. */
  form(): FormParams {
    if (this.#form === undefined) {
      if (this.contentType !== 'form') throw new SwitchboardError('malformed_body', 'Expected a form body.');
      this.#form = parseForm(this.text());
    }
    return this.#form;
  }

  /**
   * The JSON body; throws `malformed_body` for invalid JSON. A lone UTF-16 surrogate in a string (`"\ud800"`)
   * becomes U+FFFD: a carrier's verified message is stored, never refused, and the database holds only UTF-8.
   */
  json(): unknown {
    if (!this.#jsonParsed) {
      if (this.contentType !== 'json') throw new SwitchboardError('malformed_body', 'Expected a JSON body.');
      try {
        this.#json = parseWellFormedJson(this.text());
      } catch (err) {
        throw new SwitchboardError('malformed_body', 'The body is not valid JSON.', { cause: err });
      }
      this.#jsonParsed = true;
    }
    return this.#json;
  }
}

/**
 * Strict application/x-www-form-urlencoded parsing. URLSearchParams silently keeps invalid percent escapes
 * (`%zz`) as literal text, which would let a malformed body through to signature checks and storage; here it is a
 * 400. A repeated name keeps every value in order (Twilio signs each one). The result has no prototype, so a
 * parameter named `__proto__` is just a parameter.
 */
export function parseForm(text: string): FormParams {
  const params: FormParams = Object.create(null) as FormParams;
  if (text.length === 0) return params;
  for (const pair of text.split('&')) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    const name = decodeComponent(rawName);
    const value = decodeComponent(rawValue);
    const existing = params[name];
    if (existing === undefined) params[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else params[name] = [existing, value];
  }
  return params;
}

function decodeComponent(raw: string): string {
  const spaced = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch (err) {
    throw new SwitchboardError('malformed_body', 'The form body has an invalid percent-encoding.', {
      cause: err,
    });
  }
}
