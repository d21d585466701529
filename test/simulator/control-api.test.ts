import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderSimulator, SANDBOX_TELNYX, SANDBOX_TWILIO } from '../../src/simulator/simulator.js';
import { TokenBucket } from '../../src/simulator/token-bucket.js';
import { formParams, startReceiver, telnyxClient, twilioClient, type Receiver } from './helpers.js';

let sim: ProviderSimulator;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  sim = await ProviderSimulator.start({ callbacks: { enabled: false } });
});

afterAll(async () => {
  await sim.close();
  await receiver.close();
});

async function control(method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('control API', () => {
  it('drives faults, reads messages and stats, injects inbound and resets', async () => {
    const config = await control('GET', '/_sim/config');
    expect(config.json).toEqual({
      url: sim.url,
      twilioApiBaseUrl: sim.url,
      telnyxApiBaseUrl: `${sim.url}/v2`,
      twilioAccountSid: SANDBOX_TWILIO.accountSid,
      telnyxPublicKey: SANDBOX_TELNYX.publicKey,
      telnyxMessagingProfileId: SANDBOX_TELNYX.messagingProfileId,
      defaultWebhookUrl: null,
    });
    expect(JSON.stringify(config.json)).not.toContain(SANDBOX_TWILIO.authToken);

    const set = await control('POST', '/_sim/faults/twilio', {
      down: true,
      recipientErrors: { '+15005550001': '21211' },
    });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ down: true, recipientErrors: { '+15005550001': '21211' } });
    await expect(
      twilioClient(sim).messages.create({ to: '+14155550123', from: '+14155550100', body: 'x' }),
    ).rejects.toMatchObject({ status: 503 });
    await control('POST', '/_sim/faults/twilio', { down: false });
    await twilioClient(sim).messages.create({ to: '+14155550123', from: '+14155550100', body: 'x' });
    await telnyxClient(sim).messages.send({ to: '+14155550123', from: '+14155550100', text: 'y' });

    const telnyxOnly = await control('GET', '/_sim/messages?provider=telnyx');
    expect(telnyxOnly.json).toEqual([expect.objectContaining({ provider: 'telnyx', body: 'y' })]);
    const all = await fetch(`${sim.url}/_sim/messages`).then((r) => r.json() as Promise<unknown[]>);
    expect(all).toHaveLength(2);
    const stats = await control('GET', '/_sim/stats');
    expect(stats.json).toMatchObject({
      twilio: { requests: 2, accepted: 1, errors: 1 },
      telnyx: { requests: 1, accepted: 1 },
      callbacks: { delivered: 0 },
    });

    const inbound = await control('POST', '/_sim/inbound', {
      provider: 'twilio',
      from: '+14155550123',
      to: '+14155550100',
      body: 'hello',
      webhookUrl: `${receiver.base}/webhooks`,
    });
    expect(inbound.status).toBe(200);
    expect(inbound.json).toMatchObject({ status: 200, providerMessageId: expect.stringMatching(/^SM/) });
    expect(formParams(receiver.requests[0]!)).toMatchObject({ Body: 'hello', SmsStatus: 'received' });

    expect((await control('POST', '/_sim/webhook-url', { url: `${receiver.base}/default` })).status).toBe(
      200,
    );
    expect(sim.defaultWebhookUrl).toBe(`${receiver.base}/default`);

    const reset = await control('POST', '/_sim/reset');
    expect(reset.status).toBe(200);
    expect(sim.messages()).toEqual([]);
    expect(sim.stats('twilio').requests).toBe(0);
    expect(sim.faults('twilio').recipientErrors).toEqual({});
  });

  it('answers bad input with 400, an unreachable inbound target with 502, an unknown route with 404', async () => {
    expect((await control('POST', '/_sim/faults/twilio', { errorRate: 7 })).status).toBe(400);
    expect((await control('POST', '/_sim/faults/nexmo', { down: true })).status).toBe(400);
    const badJson = await fetch(`${sim.url}/_sim/faults/telnyx`, { method: 'POST', body: '{' });
    expect(badJson.status).toBe(400);
    expect((await control('POST', '/_sim/inbound', { provider: 'twilio', from: 1 })).status).toBe(400);
    const unreachable = await control('POST', '/_sim/inbound', {
      provider: 'telnyx',
      from: '+14155550123',
      to: '+14155550100',
      body: 'x',
      webhookUrl: 'http://127.0.0.1:1/nothing',
    });
    expect(unreachable.status).toBe(502);
    expect((await control('GET', '/_sim/nothing')).status).toBe(404);
    expect((await fetch(`${sim.url}/elsewhere`)).status).toBe(404);
  });
});

describe('npm run simulator (main.ts)', () => {
  it('prints what to set on the gateway, never the secrets, and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/main.ts'], {
      env: { ...process.env, SIMULATOR_PORT: '0', SIMULATOR_WEBHOOK_URL: 'http://127.0.0.1:3999/webhooks' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 15_000;
    while (!out.includes('Ctrl-C') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

    for (const name of [
      'TWILIO_ACCOUNT_SID=',
      'TWILIO_API_BASE_URL=',
      'TELNYX_API_BASE_URL=',
      'TELNYX_PUBLIC_KEY=',
      'TELNYX_MESSAGING_PROFILE_ID=',
    ]) {
      expect(out).toContain(name);
    }
    expect(out).toContain(`TELNYX_PUBLIC_KEY=${SANDBOX_TELNYX.publicKey}`);
    expect(out).not.toContain(SANDBOX_TWILIO.authToken);
    expect(out).not.toContain(SANDBOX_TELNYX.apiKey);

    const base = /TWILIO_API_BASE_URL=(\S+)/.exec(out)?.[1];
    const config = (await fetch(`${base}/_sim/config`).then((r) => r.json())) as Record<string, unknown>;
    expect(config.defaultWebhookUrl).toBe('http://127.0.0.1:3999/webhooks');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('TokenBucket', () => {
  it('holds one second of tokens, refills continuously, and takes nothing when it refuses', () => {
    let now = 0;
    const bucket = new TokenBucket(10, () => now);
    for (let i = 0; i < 10; i++) expect(bucket.tryTake(1)).toBe(true);
    expect(bucket.tryTake(1)).toBe(false);
    expect(bucket.secondsUntil(1)).toBe(1);
    now += 250;
    expect(bucket.tryTake(3)).toBe(false);
    expect(bucket.tryTake(2)).toBe(true);
    now += 10_000;
    // Never more than one second's worth.
    for (let i = 0; i < 10; i++) expect(bucket.tryTake(1)).toBe(true);
    expect(bucket.tryTake(1)).toBe(false);
  });

  it('lets a cost above capacity through from a full bucket and makes the debt wait', () => {
    let now = 0;
    const bucket = new TokenBucket(2, () => now);
    expect(bucket.tryTake(5)).toBe(true);
    expect(bucket.secondsUntil(1)).toBe(2);
    // 5 taken from 2: a debt of 3, so one token is back after 2 s.
    now += 1_900;
    expect(bucket.tryTake(1)).toBe(false);
    now += 200;
    expect(bucket.tryTake(1)).toBe(true);
  });
});
