import { afterEach, describe, expect, it } from 'vitest';
import { newSecret, TestApp } from '../helpers/app-server.js';
import { twilioInbound, unique } from '../helpers/carriers.js';
import { json } from '../helpers/gateway.js';
import { startSendGateway, type SendGateway } from '../helpers/send-gateway.js';
import { eventually } from '../helpers/wait.js';

let gw: SendGateway | undefined;
let app: TestApp | undefined;
afterEach(async () => {
  await gw?.close();
  await app?.close();
});

/** A sample's value from Prometheus' text format; labels must match exactly (in the order prom-client writes). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  const rendered = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const line = text.split('\n').find((l) => l.startsWith(rendered ? `${name}{${rendered}} ` : `${name} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GET /metrics', () => {
  it('counts webhooks, verification failures, sends, the delivery ratio, event deliveries and queue state', async () => {
    app = await TestApp.start();
    app.answer((_req, i) => (i === 0 ? { status: 500 } : { status: 204 }));
    gw = await startSendGateway({
      env: {
        APP_WEBHOOK_URL: `${app.url}/hook`,
        APP_WEBHOOK_SECRET: newSecret(),
        APP_WEBHOOK_RETRY_SCHEDULE: '100ms',
        APP_WEBHOOK_EVENTS: 'message.received',
      },
    });
    gw.sim.setFaults('twilio', { recipientErrors: { '+14155550199': '21211' } });
    const ok = await json(await gw.send({ to: '+14155550123', body: 'hello' }));
    const bad = await json(await gw.send({ to: '+14155550199', body: 'hello' }));
    await gw.waitForStatus(ok.id, 'delivered');
    await gw.waitForStatus(bad.id, 'failed');
    const inbound = twilioInbound({ MessageSid: unique('SM') });
    expect((await gw.postTwilio(inbound)).status).toBe(200);
    expect((await gw.postTwilio(inbound)).status).toBe(200); // the carrier's retry: a duplicate
    expect((await gw.postTwilio(inbound, '/webhooks', 'f'.repeat(32))).status).toBe(403);
    await app.waitFor(2); // 500, then delivered

    expect((await gw.api('/metrics', 'wrong-key-0123456789')).status).toBe(401);
    const text = await eventually(async () => {
      const body = await (await gw!.api('/metrics')).text();
      const delivered = sample(body, 'switchboard_event_deliveries_total', {
        endpoint: 'default',
        outcome: 'delivered',
      });
      return delivered === 1 ? body : null;
    });
    const twilio = { provider: 'twilio' };
    expect(sample(text, 'switchboard_webhooks_total', { ...twilio, outcome: 'duplicate', reason: '' })).toBe(
      1,
    );
    expect(
      sample(text, 'switchboard_webhooks_total', {
        ...twilio,
        outcome: 'rejected',
        reason: 'signature_invalid',
      }),
    ).toBe(1);
    // The inbound message and the sent message's receipts.
    expect(
      sample(text, 'switchboard_webhooks_total', { ...twilio, outcome: 'accepted', reason: '' }),
    ).toBeGreaterThan(2);
    expect(
      sample(text, 'switchboard_webhook_verification_failures_total', {
        ...twilio,
        reason: 'signature_invalid',
      }),
    ).toBe(1);
    expect(
      sample(text, 'switchboard_send_attempts_total', { ...twilio, outcome: 'accepted', error_class: '' }),
    ).toBe(1);
    expect(
      sample(text, 'switchboard_send_attempts_total', {
        ...twilio,
        outcome: 'failed',
        error_class: 'recipient',
      }),
    ).toBe(1);
    expect(sample(text, 'switchboard_send_duration_seconds_count', twilio)).toBe(2);
    expect(sample(text, 'switchboard_message_final_status_total', { ...twilio, status: 'delivered' })).toBe(
      1,
    );
    expect(sample(text, 'switchboard_message_final_status_total', { ...twilio, status: 'failed' })).toBe(1);
    expect(sample(text, 'switchboard_delivery_ratio', twilio)).toBe(0.5);
    expect(
      sample(text, 'switchboard_event_deliveries_total', { endpoint: 'default', outcome: 'retry' }),
    ).toBe(1);
    expect(sample(text, 'switchboard_send_queue_depth', twilio)).toBe(0);
    expect(sample(text, 'switchboard_send_in_flight', twilio)).toBe(0);
    expect(sample(text, 'switchboard_circuit_breaker_state', twilio)).toBe(0);
    expect(sample(text, 'switchboard_event_deliveries_pending', { endpoint: 'default' })).toBe(0);
  });

  it('shows an open circuit', async () => {
    gw = await startSendGateway({
      config: {
        defaultProvider: 'twilio',
        providers: {
          twilio: {
            from: '+14155550100',
            mps: null,
            maxAttempts: 1,
            circuitBreaker: { failureThreshold: 1 },
          },
        },
        retry: { baseDelayMs: 10, maxDelayMs: 20 },
      },
    });
    gw.sim.setFaults('twilio', { down: true });
    await gw.send({ to: '+14155550123', body: 'x' });
    const text = await eventually(async () => {
      const body = await (await gw!.api('/metrics')).text();
      return sample(body, 'switchboard_circuit_breaker_state', { provider: 'twilio' }) === 2 ? body : null;
    });
    expect(sample(text, 'switchboard_circuit_breaker_state', { provider: 'twilio' })).toBe(2);
  });
});
