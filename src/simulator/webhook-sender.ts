import http from 'node:http';
import https from 'node:https';
import type { PendingWork } from './pending-work.js';
import type { CallbackStats } from './types.js';

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface WebhookJob {
  /** The primary URL, then failovers; each gets every attempt before the next is tried. */
  urls: string[];
  /** Attempts per URL; the sender's default when absent. */
  maxAttempts?: number;
  timeoutMs: number;
  /** Builds (and signs) the request for one attempt: Telnyx numbers attempts and signs with a fresh timestamp. */
  build(url: string, attempt: number): WebhookRequest | Promise<WebhookRequest>;
  /** Called once with the 2xx status that ended the job, or null when every attempt failed; not after close(). */
  onDone?(status: number | null): void;
}

interface Task {
  job: WebhookJob;
  urlIndex: number;
  attempt: number;
}

export interface WebhookSenderOptions {
  concurrency: number;
  maxAttempts: number;
  retryDelayMs: number;
  maxQueued: number;
  pending: PendingWork;
}

/**
 * Posts webhooks the way a carrier does, without ever slowing the send path: jobs wait in a FIFO and at most
 * `concurrency` requests are in flight, over keep-alive connections. A failed attempt (non-2xx, 3xx included, a
 * network error or a timeout) is retried after a growing delay; after the last attempt the job is dropped. Nothing
 * here can reject unhandled: every outcome ends in the stats.
 */
export class WebhookSender {
  readonly stats: CallbackStats = { delivered: 0, failedAttempts: 0, abandoned: 0, dropped: 0 };
  readonly #options: WebhookSenderOptions;
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  // A queue with a moving head: Array#shift is O(n) on the long queues a benchmark builds.
  #queue: Task[] = [];
  #head = 0;
  #running = 0;
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  readonly #inflight = new Set<http.ClientRequest>();
  // Callback URLs repeat (a gateway has one or two); parsing each once saves a URL parse per webhook.
  readonly #parsedUrls = new Map<string, URL>();
  #closed = false;

  constructor(options: WebhookSenderOptions) {
    this.#options = options;
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.concurrency,
      maxFreeSockets: options.concurrency,
    };
    this.#httpAgent = new http.Agent(agentOptions);
    this.#httpsAgent = new https.Agent(agentOptions);
  }

  /** Queues a job; false (and counted as dropped) when the queue is full or the sender closed. */
  enqueue(job: WebhookJob): boolean {
    if (this.#closed || this.#queue.length - this.#head >= this.#options.maxQueued || job.urls.length === 0) {
      this.stats.dropped += 1;
      return false;
    }
    this.#options.pending.add();
    this.#queue.push({ job, urlIndex: 0, attempt: 1 });
    this.#pump();
    return true;
  }

  /** One attempt, outside the queue (inbound injection, which reports the status to its caller). */
  post(request: WebhookRequest, timeoutMs: number): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('the simulator is closed'));
    return this.#send(request, timeoutMs);
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    this.#queue = [];
    this.#head = 0;
    for (const req of this.#inflight) req.destroy();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  #pump(): void {
    while (this.#running < this.#options.concurrency && this.#head < this.#queue.length) {
      const task = this.#queue[this.#head]!;
      this.#head += 1;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#run(task);
    }
  }

  #run(task: Task): void {
    this.#running += 1;
    const { job, urlIndex, attempt } = task;
    // Inside a promise chain, so a build that throws counts as a failed attempt like any other.
    Promise.resolve()
      .then(() => job.build(job.urls[urlIndex]!, attempt))
      .then((request) => this.#send(request, job.timeoutMs))
      .then(
        (status) => status,
        () => 0,
      )
      .then((status) => {
        this.#running -= 1;
        this.#settle(task, status);
        this.#pump();
      })
      .catch(() => undefined);
  }

  #settle(task: Task, status: number): void {
    const { job } = task;
    if (this.#closed) return;
    if (status >= 200 && status < 300) {
      this.stats.delivered += 1;
      this.#finish(job, status);
      return;
    }
    this.stats.failedAttempts += 1;
    const maxAttempts = job.maxAttempts ?? this.#options.maxAttempts;
    if (task.attempt < maxAttempts) {
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        this.#queue.push({ job, urlIndex: task.urlIndex, attempt: task.attempt + 1 });
        this.#pump();
      }, this.#options.retryDelayMs * task.attempt);
      this.#retryTimers.add(timer);
    } else if (task.urlIndex + 1 < job.urls.length) {
      this.#queue.push({ job, urlIndex: task.urlIndex + 1, attempt: 1 });
    } else {
      this.stats.abandoned += 1;
      this.#finish(job, null);
    }
  }

  #finish(job: WebhookJob, status: number | null): void {
    notify(job, status);
    this.#options.pending.done();
  }

  #send(request: WebhookRequest, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      let url = this.#parsedUrls.get(request.url);
      if (url === undefined) {
        try {
          url = new URL(request.url);
        } catch (err) {
          reject(err);
          return;
        }
        if (this.#parsedUrls.size >= 1_000) this.#parsedUrls.clear();
        this.#parsedUrls.set(request.url, url);
      }
      const secure = url.protocol === 'https:';
      const req = (secure ? https : http).request(url, {
        method: 'POST',
        agent: secure ? this.#httpsAgent : this.#httpAgent,
        headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
      });
      let settled = false;
      const settle = (status: number | Error) => {
        if (settled) return;
        settled = true;
        if (typeof status === 'number') resolve(status);
        else reject(status);
      };
      this.#inflight.add(req);
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('response', (res) => {
        // Drained, so the connection goes back to the pool.
        res.resume();
        res.on('end', () => settle(res.statusCode ?? 0));
        res.on('error', (err) => settle(err));
        res.on('close', () => settle(new Error('the response was cut short')));
      });
      req.on('error', (err) => settle(err));
      req.on('close', () => {
        this.#inflight.delete(req);
        settle(new Error('the connection closed without an answer'));
      });
      req.end(request.body);
    });
  }
}

function notify(job: WebhookJob, status: number | null): void {
  try {
    job.onDone?.(status);
  } catch {
    // A caller's bookkeeping error must not break the sender.
  }
}
