import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The app at the other end of event delivery, for bench:ingest with BENCH_APP_EVENTS=true: counts the events it
 * is sent and answers 204 at once (no reply), without checking signatures (tests do that), so that it costs the
 * shared CPU as little as it can.
 */
export class AppSink {
  received = 0;
  readonly secret = `whsec_${randomBytes(32).toString('base64')}`;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(host: string): Promise<AppSink> {
    const server = createServer();
    const sink = new AppSink(server);
    server.on('request', (req, res) => {
      req.resume();
      req.on('end', () => {
        sink.received += 1;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return sink;
  }

  url(host: string): string {
    return `http://${host}:${(this.#server.address() as AddressInfo).port}/events`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
