import type { EndpointState, EventDetail, StoredEventDetail } from '../core/events.js';
import type { Message, Owned } from '../core/message.js';
import { hasScope, type ApiKeyIdentity } from './auth.js';

// URLs that may carry a token in their path or query (an app's endpoint, another client's statusCallback) are
// shown in full only to those entitled to them, and otherwise as their origin (scheme, host and port): enough to
// tell where events go, nothing to replay a request with.

/** `https://crm.example.com` for `https://crm.example.com/hooks?token=...`; '' for what is not a URL. */
export function originOf(url: string): string {
  return URL.canParse(url) ? new URL(url).origin : '';
}

/** Endpoint URLs in full for admin keys; their origin for the others. */
export function endpointFor(viewer: ApiKeyIdentity, endpoint: EndpointState): EndpointState {
  return hasScope(viewer, 'admin') ? endpoint : { ...endpoint, url: originOf(endpoint.url) };
}

/**
 * A message as `viewer` may see it: its statusCallback in full for admin keys and for the key that sent the
 * message, as its origin for the others; `createdBy` (an internal fact) left out.
 */
export function messageFor<T extends Message>(viewer: ApiKeyIdentity, stored: Owned<T>): T {
  const { createdBy, ...message } = stored;
  return withCallbackFor(viewer, message as unknown as T, createdBy);
}

/** An event as `viewer` may see it: its payload's message as messageFor shows it. */
export function eventFor(viewer: ApiKeyIdentity, stored: StoredEventDetail): EventDetail {
  const { messageCreatedBy, ...event } = stored;
  const data = withCallbackFor(viewer, event.payload.data, messageCreatedBy);
  return data === event.payload.data ? event : { ...event, payload: { ...event.payload, data } };
}

function withCallbackFor<T extends Message>(viewer: ApiKeyIdentity, message: T, createdBy: string | null): T {
  const callback = message.statusCallback;
  if (callback === null || hasScope(viewer, 'admin') || (createdBy !== null && createdBy === viewer.id)) {
    return message;
  }
  return { ...message, statusCallback: originOf(callback) };
}
