import type { ApiKeyRecord } from '../core/api-keys.js';
import { Worker } from 'node:worker_threads';
import type { Message, MessageWithEvents, ProviderId } from '../core/message.js';
import type {
  EnqueueResult,
  IngestItem,
  IngestResult,
  MessageFilter,
  NewOutboundMessage,
  OutboxItem,
  Page,
  SendOutcome,
  Store,
} from '../core/store.js';
import type {
  DeliveryInfo,
  DeliveryResult,
  EndpointDefinition,
  EndpointState,
  EventDetail,
  EventFilter,
  EventSummary,
  PendingDelivery,
  RecordedDelivery,
} from '../core/events.js';
import { queuedMessage, type EnqueueWire } from './rows.js';
import type { PragmaName, WriteOp } from './sqlite-engine.js';
import {
  fromWire,
  type DeliveriesNotice,
  type Ready,
  type Request,
  type Response,
  type WireOutcome,
  type WorkerInit,
} from './worker-protocol.js';

// Compiled (dist/), the worker is plain JavaScript. From TypeScript source (tests, `npm run dev`) it is a .ts file:
// Node 20 does not apply `--import` loaders to a worker's entry module, so a two-line bootstrap registers tsx in the
// worker first, then imports the entry.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './sqlite-worker.ts' : './sqlite-worker.js', import.meta.url);

function startWorker(init: WorkerInit): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData: init });
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

export interface SqliteStoreOptions {
  /** A file path (its directory is created) or `:memory:`. */
  path: string;
}

interface QueuedWrite {
  op: WriteOp;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The Store over SQLite, with the database in a worker thread (sqlite-worker.ts, sqlite-engine.ts).
 *
 * Why a worker: with synchronous=FULL every commit waits for an fsync, and better-sqlite3 is synchronous. On the
 * main thread that wait, and the SQL itself, would stall every request in flight; here the main thread keeps
 * parsing and verifying webhooks while the worker commits.
 *
 * Group commit is a pipeline: the writes requested in one event-loop turn go to the worker together, without
 * waiting for earlier groups, and the worker commits everything waiting for it in one transaction. Groups grow
 * with load, neither thread waits for the other, and an idle gateway still commits at once.
 *
 * Invariant: a write's promise resolves only after the worker reports its transaction committed, so the HTTP layer
 * never acknowledges a webhook that is not durable.
 */
export class SqliteStore implements Store {
  readonly #worker: Worker;
  readonly #inFlight = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: unknown) => void }
  >();
  #nextId = 1;
  #queue: QueuedWrite[] = [];
  #flushScheduled = false;
  /** Write groups sent and not yet answered. */
  #groupsInFlight = 0;
  #failure: Error | null = null;
  readonly #deliveryListeners: (() => void)[] = [];
  #closing: Promise<void> | null = null;

  /** Opens (creating and migrating) the database; rejects if it cannot be opened. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const worker = startWorker({ path: options.path });
    const ready = await new Promise<Ready>((resolve, reject) => {
      const onExit = (code: number) =>
        reject(new Error(`the database worker exited (code ${code}) before it was ready`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (message: Ready) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        resolve(message);
      });
    });
    if (!ready.ready) {
      await worker.terminate();
      throw fromWire(ready.error);
    }
    return new SqliteStore(worker);
  }

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (message: string) => {
      const parsed = JSON.parse(message) as Response | DeliveriesNotice;
      if ('notice' in parsed) for (const listener of this.#deliveryListeners) listener();
      else this.#settle(parsed);
    });
    worker.on('error', (err) => this.#fail(err));
    // Even during close: whatever still waits on a worker that is gone must fail rather than wait forever.
    worker.on('exit', (code) => this.#fail(new Error(`the database worker exited (code ${code})`)));
  }

  ingest(items: IngestItem[]): Promise<IngestResult[]> {
    return this.#write({ op: 'ingest', items }) as Promise<IngestResult[]>;
  }

  async enqueue(messages: NewOutboundMessage[]): Promise<EnqueueResult[]> {
    const results = (await this.#write({ op: 'enqueue', messages })) as EnqueueWire[];
    return results.map((r, i) =>
      r.outcome === 'stored'
        ? { outcome: 'stored', message: queuedMessage(messages[i] as NewOutboundMessage, r.id, r.createdAt) }
        : r,
    );
  }

  recordSend(outcome: SendOutcome): Promise<SendOutcome['kind']> {
    return this.#write({ op: 'recordSend', outcome }) as Promise<SendOutcome['kind']>;
  }

  loadOutbox(provider: ProviderId, afterId: string | null, limit: number): Promise<OutboxItem[]> {
    return this.#request({ op: 'loadOutbox', provider, afterId, limit }) as Promise<OutboxItem[]>;
  }

  getMessage(messageId: string): Promise<MessageWithEvents | null> {
    return this.#request({ op: 'getMessage', messageId }) as Promise<MessageWithEvents | null>;
  }

  listMessages(filter: MessageFilter, page: { cursor?: string; limit: number }): Promise<Page<Message>> {
    return this.#request({ op: 'listMessages', filter, page }) as Promise<Page<Message>>;
  }

  isOptedOut(phone: string, ourNumber: string): Promise<boolean> {
    return this.#request({ op: 'isOptedOut', phone, ourNumber }) as Promise<boolean>;
  }

  syncEndpoints(endpoints: EndpointDefinition[]): Promise<EndpointState[]> {
    return this.#write({ op: 'syncEndpoints', endpoints }) as Promise<EndpointState[]>;
  }

  listEndpoints(): Promise<EndpointState[]> {
    return this.#request({ op: 'listEndpoints' }) as Promise<EndpointState[]>;
  }

  setEndpointEnabled(id: string, enabled: boolean, reason: string | null): Promise<EndpointState | null> {
    return this.#write({ op: 'setEndpointEnabled', id, enabled, reason }) as Promise<EndpointState | null>;
  }

  loadDueDeliveries(
    endpointId: string,
    now: number,
    exclude: readonly number[],
    limit: number,
  ): Promise<PendingDelivery[]> {
    return this.#request({
      op: 'loadDueDeliveries',
      endpointId,
      now,
      exclude,
      limit,
    }) as Promise<PendingDelivery[]>;
  }

  loadDeliveryOf(endpointId: string, messageId: string): Promise<PendingDelivery | null> {
    return this.#request({ op: 'loadDeliveryOf', endpointId, messageId }) as Promise<PendingDelivery | null>;
  }

  recordDelivery(result: DeliveryResult): Promise<RecordedDelivery> {
    return this.#write({ op: 'recordDelivery', result }) as Promise<RecordedDelivery>;
  }

  listEvents(filter: EventFilter, page: { cursor?: string; limit: number }): Promise<Page<EventSummary>> {
    return this.#request({ op: 'listEvents', filter, page }) as Promise<Page<EventSummary>>;
  }

  getEvent(eventId: string): Promise<EventDetail | null> {
    return this.#request({ op: 'getEvent', eventId }) as Promise<EventDetail | null>;
  }

  redeliver(eventId: string, endpointId: string | null): Promise<DeliveryInfo[] | null> {
    return this.#write({ op: 'redeliver', eventId, endpointId }) as Promise<DeliveryInfo[] | null>;
  }

  replay(endpointId: string, since: number): Promise<number> {
    return this.#write({ op: 'replay', endpointId, since }) as Promise<number>;
  }

  async createApiKey(record: ApiKeyRecord): Promise<void> {
    await this.#write({ op: 'createApiKey', record });
  }

  revokeApiKey(id: string, at: number): Promise<ApiKeyRecord | null> {
    return this.#write({ op: 'revokeApiKey', id, at }) as Promise<ApiKeyRecord | null>;
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.#request({ op: 'listApiKeys' }) as Promise<ApiKeyRecord[]>;
  }

  onDeliveries(listener: () => void): void {
    this.#deliveryListeners.push(listener);
  }

  /** A pragma's value, for tests and diagnostics. */
  pragma(name: PragmaName): Promise<unknown> {
    return this.#request({ op: 'pragma', name });
  }

  async ping(): Promise<void> {
    await this.#request({ op: 'ping' });
  }

  /** Commits every write already requested, then closes the database and stops the worker. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while ((this.#flushScheduled || this.#groupsInFlight > 0) && this.#failure === null)
        await new Promise((resolve) => setImmediate(resolve));
      if (this.#failure === null) await this.#send({ op: 'close' }).catch(() => undefined);
      await this.#worker.terminate();
    })();
    return this.#closing;
  }

  #write(op: WriteOp): Promise<unknown> {
    if (this.#closing !== null) return Promise.reject(new Error('the store is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => {
          this.#flushScheduled = false;
          this.#flush();
        });
      }
    });
  }

  #flush(): void {
    if (this.#queue.length === 0) return;
    const group = this.#queue;
    this.#queue = [];
    this.#groupsInFlight += 1;
    this.#send({ op: 'write', ops: group.map((w) => w.op) })
      .then(
        (outcomes) => {
          (outcomes as WireOutcome[]).forEach((outcome, i) => {
            const write = group[i] as QueuedWrite;
            if (outcome.ok) write.resolve(outcome.value);
            else write.reject(fromWire(outcome.error));
          });
        },
        (err: unknown) => {
          // The group's transaction failed as a whole (I/O error, disk full): none of it is durable.
          for (const write of group) write.reject(err);
        },
      )
      .finally(() => {
        this.#groupsInFlight -= 1;
      });
  }

  #request(request: DistributiveOmit<Request, 'id'>): Promise<unknown> {
    if (this.#closing !== null) return Promise.reject(new Error('the store is closed'));
    return this.#send(request);
  }

  #send(request: DistributiveOmit<Request, 'id'>): Promise<unknown> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#inFlight.set(id, { resolve, reject });
      this.#worker.postMessage(JSON.stringify({ ...request, id }));
    });
  }

  #settle(response: Response): void {
    const waiter = this.#inFlight.get(response.id);
    if (!waiter) return;
    this.#inFlight.delete(response.id);
    if (response.ok) waiter.resolve(response.value);
    else waiter.reject(fromWire(response.error));
  }

  /** The worker is gone: everything waiting on it fails, and so does everything after (readiness reports it). */
  #fail(err: Error): void {
    this.#failure ??= err;
    for (const waiter of this.#inFlight.values()) waiter.reject(err);
    this.#inFlight.clear();
    for (const write of this.#queue) write.reject(err);
    this.#queue = [];
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
