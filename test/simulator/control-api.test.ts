import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlToken } from '../../src/simulator/control-token.js';
import { ProviderSimulator, SANDBOX_TELNYX, SANDBOX_TWILIO } from '../../src/simulator/simulator.js';
import { SenderQueues } from '../../src/simulator/sender-queues.js';
import { TokenBucket } from '../../src/simulator/token-bucket.js';
import {
  formParams,
  simControl,
  startReceiver,
  telnyxClient,
  twilioClient,
  type Receiver,
} from './helpers.js';

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
  const { status, json } = await simControl(sim, method, path, body);
  return { status, json: json as Record<string, unknown> };
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
    const all = await control('GET', '/_sim/messages');
    expect(all.json).toHaveLength(2);
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
    const badJson = await fetch(`${sim.url}/_sim/faults/telnyx`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.controlToken}`, 'content-type': 'application/json' },
      body: '{',
    });
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

describe('control API access', () => {
  const injectBody = {
    provider: 'twilio',
    from: '+14155550123',
    to: '+14155550100',
    body: 'forged',
  };

  it('makes a random 256-bit token per start', async () => {
    expect(sim.controlToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const other = await ProviderSimulator.start({ callbacks: { enabled: false } });
    try {
      expect(other.controlToken).not.toBe(sim.controlToken);
      // Each simulator takes only its own.
      const crossed = await fetch(`${other.url}/_sim/stats`, {
        headers: { authorization: `Bearer ${sim.controlToken}` },
      });
      expect(crossed.status).toBe(401);
    } finally {
      await other.close();
    }
    expect(() => new ControlToken('short')).toThrow(/at least 43 characters/);
  });

  it('answers 401 without the token or with a wrong one, on every route, and changes nothing', async () => {
    const wrong = `${sim.controlToken.slice(0, -1)}${sim.controlToken.endsWith('A') ? 'B' : 'A'}`;
    for (const headers of [
      {},
      { authorization: `Bearer ${wrong}` },
      { authorization: `Basic ${Buffer.from(`x:${sim.controlToken}`).toString('base64')}` },
      { 'x-simulator-token': wrong },
    ] as Record<string, string>[]) {
      for (const path of ['/_sim/messages', '/_sim/stats', '/_sim/config', '/_sim/faults']) {
        const res = await fetch(`${sim.url}${path}`, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        // Neither the data nor the token in the answer.
        const text = await res.text();
        expect(text).not.toContain('+1415');
        expect(text).not.toContain(sim.controlToken);
      }
      const json = { ...headers, 'content-type': 'application/json' };
      const inbound = await fetch(`${sim.url}/_sim/inbound`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ ...injectBody, webhookUrl: `${receiver.base}/webhooks` }),
      });
      expect(inbound.status).toBe(401);
      const faults = await fetch(`${sim.url}/_sim/faults/twilio`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ down: true }),
      });
      expect(faults.status).toBe(401);
    }
    expect(sim.faults('twilio').down).toBe(false);
    expect(receiver.requests.filter((r) => formParams(r).Body === 'forged')).toEqual([]);
  });

  it('refuses what a web page can send cross-origin without a preflight: a form or text/plain post', async () => {
    const before = receiver.requests.length;
    // What <form method=post> or fetch(..., {mode: 'no-cors'}) from another origin sends: no Authorization.
    const form = await fetch(`${sim.url}/_sim/inbound`, {
      method: 'POST',
      headers: {
        origin: 'https://attacker.example',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ ...injectBody, webhookUrl: `${receiver.base}/webhooks` }).toString(),
    });
    expect(form.status).toBe(401);
    const plain = await fetch(`${sim.url}/_sim/reset`, {
      method: 'POST',
      headers: { origin: 'https://attacker.example', 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(plain.status).toBe(401);
    // Even with the token, only JSON is taken.
    for (const contentType of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const res = await fetch(`${sim.url}/_sim/inbound`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.controlToken}`, 'content-type': contentType },
        body: JSON.stringify({ ...injectBody, webhookUrl: `${receiver.base}/webhooks` }),
      });
      expect(res.status, contentType).toBe(415);
    }
    const none = await fetch(`${sim.url}/_sim/reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.controlToken}` },
    });
    expect(none.status).toBe(415);
    expect(receiver.requests.length).toBe(before);
  });

  it('takes the right token as a bearer token or in X-Simulator-Token, and JSON with a charset', async () => {
    const bearer = await fetch(`${sim.url}/_sim/stats`, {
      headers: { authorization: `bearer ${sim.controlToken}` },
    });
    expect(bearer.status).toBe(200);
    const dedicated = await fetch(`${sim.url}/_sim/stats`, {
      headers: { 'x-simulator-token': sim.controlToken },
    });
    expect(dedicated.status).toBe(200);
    const injected = await fetch(`${sim.url}/_sim/inbound`, {
      method: 'POST',
      headers: { 'x-simulator-token': sim.controlToken, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ ...injectBody, body: 'allowed', webhookUrl: `${receiver.base}/webhooks` }),
    });
    expect(injected.status).toBe(200);
    expect(receiver.requests.map((r) => formParams(r).Body)).toContain('allowed');
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
    const token = /SIMULATOR_CONTROL_TOKEN=(\S+)/.exec(out)?.[1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await fetch(`${base}/_sim/config`)).status).toBe(401);
    const config = (await fetch(`${base}/_sim/config`, {
      headers: { authorization: `Bearer ${token}` },
    }).then((r) => r.json())) as Record<string, unknown>;
    expect(config.defaultWebhookUrl).toBe('http://127.0.0.1:3999/webhooks');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses a guessable SIMULATOR_CONTROL_TOKEN', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/main.ts'], {
      env: { ...process.env, SIMULATOR_PORT: '0', SIMULATOR_CONTROL_TOKEN: 'letmein' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(err).toMatch(/SIMULATOR_CONTROL_TOKEN: the control token must be at least 43 characters/);
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

describe('SenderQueues', () => {
  it('queues each sender on its own and forgets only senders whose queue has drained', () => {
    let now = 0;
    const queues = new SenderQueues(2);
    const send = (sender: string, cost = 1) => {
      const place = queues.place(sender, cost, now);
      place.take();
      return place.waitMs;
    };
    expect([send('a'), send('a'), send('a'), send('a')]).toEqual([0, 0, 500, 1_000]);
    // A place looked at but not taken costs nothing.
    expect(queues.place('a', 1, now).waitMs).toBe(1_500);
    expect(queues.place('a', 1, now).waitMs).toBe(1_500);
    now = 100;
    // Over a thousand senders, the drained ones are forgotten; 'a' still has a queue and keeps it.
    for (let i = 0; i < 1_200; i++) expect(send(`s${i}`)).toBe(0);
    expect(send('a')).toBe(1_400);
  });
});
