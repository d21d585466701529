import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppDeps } from '../../src/app.js';
import type { MessageWithEvents, Status } from '../../src/core/message.js';
import { ProviderSimulator, type SimulatorOptions } from '../../src/simulator/simulator.js';
import { TWILIO_SID, TWILIO_TOKEN } from './carriers.js';
import { API_KEY, startGateway, type TestGateway } from './gateway.js';

export const TWILIO_FROM = '+14155550100';
export const TELNYX_FROM = '+13125550001';

/** A port free right now on loopback, so PUBLIC_BASE_URL (the carriers' callback URL) can name it before listening. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Writes a SWITCHBOARD_CONFIG file and returns its path. */
export function configFile(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-config-'));
  const path = join(dir, 'switchboard.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/** Environment that points both carriers' SDKs at `sim`, with its credentials. */
export function carrierEnv(sim: ProviderSimulator): Record<string, string> {
  return {
    TWILIO_ACCOUNT_SID: sim.twilioCredentials.accountSid,
    TWILIO_AUTH_TOKEN: sim.twilioCredentials.authToken,
    TWILIO_API_BASE_URL: sim.twilioApiBaseUrl,
    TELNYX_PUBLIC_KEY: sim.telnyxPublicKey,
    TELNYX_API_KEY: sim.telnyxApiKey,
    TELNYX_API_BASE_URL: sim.telnyxApiBaseUrl,
  };
}

export interface SendGateway extends TestGateway {
  sim: ProviderSimulator;
  /** POST /v1/messages (or another path) with the test API key. */
  send(body: unknown, headers?: Record<string, string>, path?: string): Promise<Response>;
  /** Polls the message until `done` holds (or fails the test after `timeoutMs`). */
  waitFor(
    id: string,
    done: (m: MessageWithEvents) => boolean,
    timeoutMs?: number,
  ): Promise<MessageWithEvents>;
  waitForStatus(id: string, status: Status, timeoutMs?: number): Promise<MessageWithEvents>;
}

/**
 * A gateway and a provider simulator on loopback, wired as in production: the official SDKs call the simulator,
 * the simulator posts signed status callbacks to the gateway's PUBLIC_BASE_URL/webhooks.
 */
export async function startSendGateway(
  options: { config?: unknown; env?: Record<string, string>; sim?: SimulatorOptions; deps?: AppDeps } = {},
): Promise<SendGateway> {
  const sim = await ProviderSimulator.start({
    twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN },
    callbacks: { sentDelayMs: 5, deliveredDelayMs: 5 },
    ...options.sim,
  });
  const port = await freePort();
  const config = options.config ?? {
    defaultProvider: 'twilio',
    failover: ['twilio', 'telnyx'],
    providers: {
      twilio: { from: TWILIO_FROM, mps: null, concurrency: 8 },
      telnyx: { from: TELNYX_FROM, mps: null, concurrency: 8 },
    },
    retry: { baseDelayMs: 10, maxDelayMs: 50 },
  };
  let gw: TestGateway;
  try {
    gw = await startGateway(
      {
        ...carrierEnv(sim),
        PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
        SWITCHBOARD_CONFIG: configFile(config),
        ...options.env,
      },
      options.deps,
      port,
    );
  } catch (err) {
    await sim.close();
    throw err;
  }
  const getMessage = async (id: string) => (await gw.store.getMessage(id)) as MessageWithEvents;
  const waitFor: SendGateway['waitFor'] = async (id, done, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await getMessage(id);
      if (message && done(message)) return message;
      if (Date.now() > deadline) {
        throw new Error(`message ${id} did not get there in ${timeoutMs} ms: ${JSON.stringify(message)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return {
    ...gw,
    sim,
    send: (body, headers = {}, path = '/v1/messages') =>
      fetch(gw.base + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }),
    waitFor,
    waitForStatus: (id, status, timeoutMs) => waitFor(id, (m) => m.status === status, timeoutMs),
    async close() {
      await gw.close();
      await sim.close();
    },
  };
}
