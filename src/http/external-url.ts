import type { FastifyRequest } from 'fastify';
import { SwitchboardError } from '../core/errors.js';

export interface ExternalUrlOptions {
  /** PUBLIC_BASE_URL, without a trailing slash: when set, the only source of scheme, host and path prefix. */
  publicBaseUrl: string | null;
  /** TRUST_PROXY: X-Forwarded-Proto/Host come from the operator's own proxy. Otherwise they are ignored. */
  trustProxy: boolean;
}

// A host name (labels of letters, digits, inner hyphens and underscores, maybe a final dot), an IPv4 address or a
// bracketed IPv6 literal, with an optional port. Underscores and the final dot are not DNS host names, but proxies
// send them (`switchboard_backend:3000`, nginx's upstream name; `sms.example.com.`, fully qualified). Nothing else:
// no path, query, user info (`@`), spaces or commas. A Twilio signature covers the URL and the parameters run
// together, so a "host" that could hold a path would let one captured signature be re-split into another request
// (part of the signed URL moved into the host, parameters moved into the query).
const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOST = new RegExp(String.raw`^(?:${LABEL}(?:\.${LABEL})*\.?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$`);
const MAX_HOST_LENGTH = 261; // 253 for the name, ':' and 5 digits, and brackets

/** `host` or `host:port` as a URL may hold it, else null. */
export function validHost(value: string): string | null {
  if (value.length > MAX_HOST_LENGTH) return null;
  const match = HOST.exec(value);
  if (!match) return null;
  const port = match[1];
  return port === undefined || Number(port) <= 65_535 ? value : null;
}

/**
 * The last of a header's comma-separated values: the one the operator's proxy wrote. A proxy that appends to what
 * the client sent leaves the client's values first, so only the last is trusted (one proxy, as for
 * X-Forwarded-For in app.ts).
 */
function last(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value.at(-1) : value;
  if (v === undefined) return undefined;
  return v.slice(v.lastIndexOf(',') + 1).trim();
}

/**
 * The URL the carrier called, which is what Twilio signed; the path and query are kept exactly as received. Only
 * Twilio's verification asks for it (Telnyx signs the body alone), so a webhook that needs no URL never fails here.
 *
 * - PUBLIC_BASE_URL set: it, then the path. Nothing the client sends can change the scheme or host.
 * - TRUST_PROXY=true: the last X-Forwarded-Proto (http or https) and X-Forwarded-Host (host[:port]) value, the
 *   one the operator's proxy set or appended, each falling back to what this server saw; anything else is refused
 *   (`invalid_forwarded_header`).
 * - Neither (the sandbox, a gateway without Twilio): this server's own scheme and Host header; X-Forwarded-* are
 *   ignored, since any client can send them.
 *
 * Throws `invalid_forwarded_header`, or `invalid_request` when there is no usable Host.
 */
export function externalUrl(request: FastifyRequest, options: ExternalUrlOptions): string {
  if (options.publicBaseUrl !== null) return options.publicBaseUrl + request.url;
  let proto = request.protocol;
  let host = request.headers.host;
  if (options.trustProxy) {
    const forwardedProto = last(request.headers['x-forwarded-proto']);
    if (forwardedProto !== undefined) {
      const lower = forwardedProto.toLowerCase();
      if (lower !== 'http' && lower !== 'https') {
        throw new SwitchboardError('invalid_forwarded_header', 'X-Forwarded-Proto must be http or https.');
      }
      proto = lower;
    }
    const forwardedHost = last(request.headers['x-forwarded-host']);
    if (forwardedHost !== undefined) {
      if (validHost(forwardedHost) === null) {
        throw new SwitchboardError(
          'invalid_forwarded_header',
          'X-Forwarded-Host must be a host name or address with an optional port (host[:port]).',
        );
      }
      host = forwardedHost;
    }
  }
  if (host === undefined || validHost(host) === null) {
    throw new SwitchboardError(
      'invalid_request',
      'The Host header must be a host name or address (host[:port]).',
    );
  }
  return `${proto}://${host}${request.url}`;
}
