import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { EventPayload } from '../../src/core/events.js';

/** A fresh Standard Webhooks secret, as an operator would make one. */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface AppRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** performance.now() when the request arrived. */
  at: number;
}

/** How the app answers one request. */
export interface AppAnswer {
  status?: number;
  headers?: Record<string, string>;
  body?: string | object;
  /** Waits this long before answering. */
  delayMs?: number;
  /** Destroys the connection without answering. */
  hangUp?: boolean;
}

/**
 * An app on loopback that receives Switchboard's events: real HTTP, every request kept, answers scripted per test.
 * `verify` checks a request with the `standardwebhooks` package, as an app would.
 */
export class TestApp {
  readonly requests: AppRequest[] = [];
  #answer: (req: AppRequest, index: number) => AppAnswer | Promise<AppAnswer> = () => ({ status: 204 });
  readonly #server: Server;
  readonly #waiters = new Set<() => void>();

  private constructor(server: Server) {
    this.#server = server;
  }

  static start(): Promise<TestApp> {
    return TestApp.startOn(0);
  }

  /** On a given port (an app coming back on its address after being down); 0 picks a free one. */
  static async startOn(port: number): Promise<TestApp> {
    const server = createServer();
    const app = new TestApp(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request: AppRequest = {
          path: req.url ?? '/',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: performance.now(),
        };
        const index = app.requests.push(request) - 1;
        for (const wake of app.#waiters) wake();
        void (async () => {
          const answer = await app.#answer(request, index);
          if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
          if (answer.hangUp) {
            req.socket.destroy();
            return;
          }
          const body =
            answer.body === undefined
              ? ''
              : typeof answer.body === 'string'
                ? answer.body
                : JSON.stringify(answer.body);
          const headers = {
            ...(typeof answer.body === 'object' && { 'content-type': 'application/json' }),
            ...answer.headers,
          };
          if (!res.destroyed) res.writeHead(answer.status ?? 200, headers).end(body);
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return app;
  }

  /** http://127.0.0.1:<port> */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  answer(fn: (req: AppRequest, index: number) => AppAnswer | Promise<AppAnswer>): void {
    this.#answer = fn;
  }

  /** Every request's payload, after checking its signature with `secret` (throws on a bad one). */
  verified(secret: string, path?: string): EventPayload[] {
    const webhook = new Webhook(secret);
    return this.requests
      .filter((r) => path === undefined || r.path === path)
      .map((r) => webhook.verify(r.body, r.headers as Record<string, string>) as EventPayload);
  }

  /** Payloads as sent, unverified. */
  payloads(path?: string): EventPayload[] {
    return this.requests
      .filter((r) => path === undefined || r.path === path)
      .map((r) => JSON.parse(r.body) as EventPayload);
  }

  /** Resolves once `count` requests (to `path`, if given) have arrived, or fails after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 5000, path?: string): Promise<AppRequest[]> {
    const matching = () => this.requests.filter((r) => path === undefined || r.path === path);
    const deadline = Date.now() + timeoutMs;
    while (matching().length < count) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`the app got ${matching().length} of ${count} requests in ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
    return matching();
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
