import type { FastifyRequest } from 'fastify';

function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  // A proxy chain may list several values; the first is the one the client (the carrier) used.
  return v?.split(',')[0]?.trim() || undefined;
}

/**
 * The URL the carrier called, which is what Twilio signed. Behind a proxy the server sees another host and scheme,
 * so the configured PUBLIC_BASE_URL wins; without it, X-Forwarded-Proto/Host, then the Host header. The path and
 * query are kept exactly as received (Twilio signs them as it sent them).
 */
export function externalUrl(request: FastifyRequest, publicBaseUrl: string | null): string {
  if (publicBaseUrl !== null) return publicBaseUrl + request.url;
  const proto = first(request.headers['x-forwarded-proto']) ?? request.protocol;
  const host = first(request.headers['x-forwarded-host']) ?? request.headers.host ?? 'localhost';
  return `${proto}://${host}${request.url}`;
}
