import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signature headers for one request: HMAC-SHA256 of `<id>.<timestamp>.<body>`, one `v1,<base64>`
 * per key (several during a secret rotation, space-separated).
 *
 * Signed with node:crypto rather than the `standardwebhooks` package: the package computes its HMAC in pure
 * JavaScript (fast-sha256), on every delivery. The package is the independent reference the tests verify with,
 * as an app would.
 */
export function signatureHeaders(
  id: string,
  timestampSeconds: number,
  body: string,
  keys: readonly Buffer[],
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const content = `${id}.${timestampSeconds}.${body}`;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': keys
      .map((key) => `v1,${createHmac('sha256', key).update(content).digest('base64')}`)
      .join(' '),
  };
}
