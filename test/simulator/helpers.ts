import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import Telnyx from 'telnyx';
import twilio from 'twilio';
import { RawWebhook } from '../../src/core/webhook.js';
import { TwilioHttpClient } from '../../src/providers/twilio/http-client.js';
import type { ProviderSimulator } from '../../src/simulator/simulator.js';

/** The official Twilio SDK, pointed at the simulator through the gateway's own HTTP client. */
export function twilioClient(sim: ProviderSimulator, timeoutMs = 5_000, credentials = sim.twilioCredentials) {
  return twilio(credentials.accountSid, credentials.authToken, {
    httpClient: new TwilioHttpClient({ baseUrl: sim.twilioApiBaseUrl, timeoutMs }),
  });
}

/** The official Telnyx SDK, pointed at the simulator, with its own retries off so every answer is seen. */
export function telnyxClient(sim: ProviderSimulator, timeoutMs = 5_000, apiKey = sim.telnyxApiKey) {
  return new Telnyx({ apiKey, baseURL: sim.telnyxApiBaseUrl, maxRetries: 0, timeout: timeoutMs });
}

/** A request to the simulator's control API (/_sim/*) with its control token and, for a body, JSON. */
export async function simControl(
  sim: ProviderSimulator,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${sim.controlToken}`,
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as unknown };
}

/** What a promise rejected with (fails the test if it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return err as Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

export interface Received {
  /** Absolute URL as requested (what a carrier signs). */
  url: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export interface Receiver {
  /** http://127.0.0.1:<port> */
  base: string;
  requests: Received[];
  /** Resolves once `count` requests arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/**
 * A tiny webhook receiver standing in for the gateway. `answer` picks the status for each request (default 200),
 * e.g. to fail the first attempts and see the simulator retry.
 */
export async function startReceiver(
  answer: (r: Received, index: number) => number = () => 200,
): Promise<Receiver> {
  const requests: Received[] = [];
  let waiters: { count: number; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: Received = {
        url: `${base}${req.url ?? '/'}`,
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      const index = requests.push(received) - 1;
      res.writeHead(answer(received, index), { 'content-type': 'text/plain' }).end('ok');
      const ready = waiters.filter((w) => requests.length >= w.count);
      waiters = waiters.filter((w) => requests.length < w.count);
      for (const w of ready) w.resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    requests,
    waitFor(count, timeoutMs = 5_000) {
      if (requests.length >= count) return Promise.resolve(requests);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${requests.length} of ${count} webhooks arrived`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(requests);
          },
        });
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function formParams(r: Received): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(r.body.toString('utf8')));
}

export function jsonBody(r: Received): {
  data: { event_type: string; id: string; payload: Record<string, unknown> };
  meta: { attempt: number; delivered_to: string };
} {
  return JSON.parse(r.body.toString('utf8')) as ReturnType<typeof jsonBody>;
}

/** The request as the gateway's parsers see it. */
export function rawWebhook(r: Received, contentType: 'form' | 'json'): RawWebhook {
  return new RawWebhook({
    method: 'POST',
    url: r.url,
    headers: r.headers,
    body: r.body,
    contentType,
    receivedAt: r.at,
  });
}
