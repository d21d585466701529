import type { IncomingMessage, ServerResponse } from 'node:http';

/** How often connected pages get a snapshot. @default 2000 */
export const DEFAULT_INTERVAL_MS = 2_000;

export interface LiveFeedOptions {
  /** Makes one snapshot (anything JSON can carry). */
  build: () => Promise<unknown>;
  /** Told when a snapshot could not be built; the pages keep the last one and the next tick tries again. */
  onError: (err: unknown) => void;
  /** @default DEFAULT_INTERVAL_MS */
  intervalMs?: number;
  /**
   * A monotonic clock, for the age of the last snapshot: on the wall clock, stepped back an hour, that snapshot
   * would look fresh for the hour and every tick would send it again. @default performance.now
   */
  now?: () => number;
}

interface Client {
  res: ServerResponse;
  /** Whether the client may still read (its session live, its key not revoked); checked every tick. */
  authorized: () => Promise<boolean>;
  /** A write did not fit the socket's buffer: snapshots are skipped for it until it drains. */
  blocked: boolean;
}

/**
 * Server-sent events for the dashboard: every connected page gets a `snapshot` event at once and then every
 * `intervalMs`. A snapshot is built once per tick and the same bytes go to every client; the timer runs only while
 * a client is connected. A slow client does not make memory grow: while its socket buffer is full it misses
 * snapshots (each one replaces the last anyway). A client whose session ended gets a `logout` event and is closed.
 *
 * Invariant: a response handed to add() is ended by this feed (close(), `logout`) or closed by its client (its
 * response or its request closes); in every case it leaves the set.
 */
export class LiveFeed {
  readonly #clients = new Set<Client>();
  readonly #o: LiveFeedOptions;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  #ticking = false;
  #closed = false;
  /** The last snapshot's frame and when it was built (a page connecting just after a tick reuses it). */
  #latest: { at: number; frame: string } | null = null;
  #building: Promise<string | null> | null = null;

  constructor(options: LiveFeedOptions) {
    const { intervalMs = DEFAULT_INTERVAL_MS } = options;
    if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
      throw new TypeError(`Expected \`intervalMs\` to be a positive number, got ${intervalMs}`);
    }
    this.#o = options;
    this.#intervalMs = intervalMs;
  }

  get clients(): number {
    return this.#clients.size;
  }

  /**
   * Streams to `res` (its event-stream headers already written) until it or its request closes. Both are watched:
   * a response queued behind another on a keep-alive connection (HTTP pipelining) never gets the socket, so it
   * never emits 'close' when the connection drops; its request does.
   */
  add(req: IncomingMessage, res: ServerResponse, authorized: () => Promise<boolean>): void {
    if (this.#closed || req.destroyed || res.destroyed) {
      res.end();
      return;
    }
    const client: Client = { res, authorized, blocked: false };
    this.#clients.add(client);
    const leave = () => {
      req.off('close', leave);
      res.off('close', leave);
      if (!this.#clients.delete(client)) return;
      if (this.#clients.size === 0) this.#stop();
    };
    req.once('close', leave);
    res.once('close', leave);
    if (this.#timer === null) {
      this.#timer = setInterval(() => void this.#tick(), this.#intervalMs);
      // The server's sockets keep the process alive while a page is connected; this timer never should.
      this.#timer.unref();
    }
    void this.#frame(this.#intervalMs / 2).then((frame) => {
      if (frame !== null) this.#write(client, frame);
    });
  }

  /** Ends every stream and stops; later add() calls end their response at once. For the app's shutdown. */
  close(): void {
    this.#closed = true;
    this.#stop();
    for (const { res } of this.#clients) {
      // A client that stopped reading (a sleeping laptop) never lets end() finish, and the server's close would
      // wait for its connection: such a stream is cut; the others are ended and cut if still open a second later.
      if (res.writableNeedDrain) res.destroy();
      else {
        res.end();
        setTimeout(() => res.destroy(), 1_000).unref();
      }
    }
    this.#clients.clear();
  }

  async #tick(): Promise<void> {
    // A build slower than the interval must not pile up ticks.
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const clients = [...this.#clients];
      const allowed = await Promise.all(clients.map((c) => c.authorized().catch(() => false)));
      clients.forEach((client, i) => {
        if (allowed[i]) return;
        this.#clients.delete(client);
        if (!client.res.writableEnded) client.res.end('event: logout\ndata: {}\n\n');
      });
      if (this.#clients.size === 0) {
        this.#stop();
        return;
      }
      const frame = await this.#frame(0);
      if (frame !== null) for (const client of this.#clients) this.#write(client, frame);
    } finally {
      this.#ticking = false;
    }
  }

  /** A snapshot frame no older than `maxAgeMs`, sharing a build already under way; null when building failed. */
  #frame(maxAgeMs: number): Promise<string | null> {
    const now = this.#o.now?.() ?? performance.now();
    if (this.#latest !== null && now - this.#latest.at <= maxAgeMs)
      return Promise.resolve(this.#latest.frame);
    this.#building ??= this.#o
      .build()
      .then((snapshot) => {
        // JSON.stringify writes no line breaks, so the whole snapshot is one `data:` line.
        const frame = `event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`;
        this.#latest = { at: now, frame };
        return frame;
      })
      .catch((err: unknown) => {
        this.#o.onError(err);
        return null;
      })
      .finally(() => {
        this.#building = null;
      });
    return this.#building;
  }

  #write(client: Client, frame: string): void {
    const { res } = client;
    if (client.blocked || res.writableEnded || res.destroyed) return;
    if (!res.write(frame)) {
      client.blocked = true;
      res.once('drain', () => {
        client.blocked = false;
      });
    }
  }

  #stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#latest = null;
  }
}
