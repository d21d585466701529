import type { ApiKeyRecord } from '../../core/api-keys.js';
import { Worker } from 'node:worker_threads';
import type { Message, MessageWithEvents, Owned, ProviderId } from '../../core/message.js';
import type {
  EnqueueResult,
  IngestItem,
  IngestResult,
  MessageFilter,
  NewOutboundMessage,
  OutboxItem,
  Page,
  PruneCounts,
  RedactCounts,
  ReplayKeyCounts,
  RetentionStep,
  RetentionStepResult,
  SendOutcome,
  Store,
} from '../../core/store.js';
import type {
  DeliveryInfo,
  DeliveryResult,
  EndpointDefinition,
  EndpointState,
  EventFilter,
  EventSummary,
  LaneAllowance,
  PendingDelivery,
  RecordedDelivery,
  StoredEventDetail,
} from '../../core/events.js';
import { queuedMessage, type EnqueueWire } from '../rows.js';
import type { PragmaName, WriteOp } from './sqlite-engine.js';
import { isStorageFailure, WriteHealth } from './write-health.js';
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
  /** Free disk space under which readiness reports no room (see SqliteEngine). @default 8 pages */
  minFreeDiskBytes?: number;
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
  /** Requests sent to the worker and not yet answered, oldest first (ids only grow). */
  readonly #inFlight = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: unknown) => void; sentAt: number }
  >();
  #nextId = 1;
  #queue: QueuedWrite[] = [];
  #flushScheduled = false;
  /** Write groups sent and not yet answered. */
  #groupsInFlight = 0;
  #failure: Error | null = null;
  readonly #deliveryListeners: (() => void)[] = [];
  #closing: Promise<void> | null = null;
  readonly #health = new WriteHealth();
  /** The readiness probe in progress, shared by every check that asks meanwhile. */
  #probe: Promise<void> | null = null;

  /** Opens (creating and migrating) the database; rejects if it cannot be opened. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const worker = startWorker({ path: options.path, minFreeDiskBytes: options.minFreeDiskBytes });
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

  ingest(items: IngestItem[], replayKey: string | null = null): Promise<IngestResult[]> {
    return this.#write({ op: 'ingest', items, replayKey }) as Promise<IngestResult[]>;
  }

  async enqueue(messages: NewOutboundMessage[]): Promise<EnqueueResult[]> {
    const results = (await this.#write({ op: 'enqueue', messages })) as EnqueueWire[];
    return results.map((r, i) =>
      r.outcome === 'stored'
        ? { outcome: 'stored', message: queuedMessage(messages[i] as NewOutboundMessage, r) }
        : r,
    );
  }

  recordSend(outcome: SendOutcome): Promise<SendOutcome['kind']> {
    return this.#write({ op: 'recordSend', outcome }) as Promise<SendOutcome['kind']>;
  }

  loadOutbox(provider: ProviderId, afterId: string | null, limit: number): Promise<OutboxItem[]> {
    return this.#request({ op: 'loadOutbox', provider, afterId, limit }) as Promise<OutboxItem[]>;
  }

  getMessage(messageId: string): Promise<Owned<MessageWithEvents> | null> {
    return this.#request({ op: 'getMessage', messageId }) as Promise<Owned<MessageWithEvents> | null>;
  }

  listMessages(
    filter: MessageFilter,
    page: { cursor?: string; limit: number },
  ): Promise<Page<Owned<Message>>> {
    return this.#request({ op: 'listMessages', filter, page }) as Promise<Page<Owned<Message>>>;
  }

  isOptedOut(phone: string, ourNumber: string): Promise<boolean> {
    return this.#request({ op: 'isOptedOut', phone, ourNumber }) as Promise<boolean>;
  }

  optedOutAmong(phones: readonly string[], ourNumber: string): Promise<string[]> {
    return this.#request({ op: 'optedOutAmong', phones, ourNumber }) as Promise<string[]>;
  }

  existingIdempotencyKeys(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return this.#request({ op: 'existingIdempotencyKeys', keys }) as Promise<string[]>;
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
    allowance?: LaneAllowance,
  ): Promise<PendingDelivery[]> {
    return this.#request({
      op: 'loadDueDeliveries',
      endpointId,
      now,
      exclude,
      limit,
      ...(allowance && { allowance }),
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

  getEvent(eventId: string): Promise<StoredEventDetail | null> {
    return this.#request({ op: 'getEvent', eventId }) as Promise<StoredEventDetail | null>;
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

  pruneStep(step: RetentionStep): Promise<RetentionStepResult<PruneCounts>> {
    return this.#write({ op: 'pruneStep', step }) as Promise<RetentionStepResult<PruneCounts>>;
  }

  redactStep(step: RetentionStep): Promise<RetentionStepResult<RedactCounts>> {
    return this.#write({ op: 'redactStep', step }) as Promise<RetentionStepResult<RedactCounts>>;
  }

  pruneReplayKeys(step: RetentionStep): Promise<RetentionStepResult<ReplayKeyCounts>> {
    return this.#write({ op: 'pruneReplayKeys', step }) as Promise<RetentionStepResult<ReplayKeyCounts>>;
  }

  onDeliveries(listener: () => void): void {
    this.#deliveryListeners.push(listener);
  }

  /** A pragma's value, for tests and diagnostics; with `value`, sets it first (max_page_count, in tests). */
  pragma(name: PragmaName, value?: number): Promise<unknown> {
    return this.#request({ op: 'pragma', name, ...(value !== undefined && { value }) });
  }

  /**
   * Whether the store takes writes now, answered within `timeoutMs` whatever the worker is doing. Not ready:
   * writes failed for the storage's reasons (disk full, I/O, a lock held elsewhere) and no probe write has
   * succeeded since (see WriteHealth); a request has waited on the worker longer than `timeoutMs` (a held lock, a
   * frozen disk, a backlog); the worker does not answer in time. While writes fail (at most once a second), and
   * when nothing has committed for 5 s, a probe (room checked, then the smallest commit: see
   * SqliteEngine.probeWrite) shows whether they work now, so an idle gateway notices both the failure and the
   * recovery.
   */
  async checkReady(timeoutMs: number): Promise<void> {
    if (this.#failure !== null) throw new Error(`the database worker has stopped (${this.#failure.message})`);
    if (this.#closing !== null) throw new Error('the database is closing');
    const waited = this.#oldestWaitMs();
    if (waited >= timeoutMs) {
      throw new Error(`a database request has waited ${(waited / 1000).toFixed(1)} s for an answer`);
    }
    let check: Promise<unknown>;
    if (this.#probe !== null) check = this.#probe;
    else if (this.#health.probeDue()) check = this.#startProbe();
    else if (this.#health.failure !== null) throw writesFail(this.#health.failure);
    else check = this.#send({ op: 'ping' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs - waited);
    });
    try {
      if ((await Promise.race([check, late])) === 'late') {
        throw new Error(`the database did not answer within ${(timeoutMs / 1000).toFixed(1)} s`);
      }
    } finally {
      clearTimeout(timer);
    }
    if (this.#health.failure !== null) throw writesFail(this.#health.failure);
  }

  #startProbe(): Promise<void> {
    this.#health.probing();
    const probe = this.#send({ op: 'probe' }).then(
      () => this.#health.proved(),
      (err: unknown) => this.#health.failed(err as Error),
    );
    this.#probe = probe;
    void probe.finally(() => {
      if (this.#probe === probe) this.#probe = null;
    });
    return probe;
  }

  /** How long the oldest request still unanswered has waited on the worker (0: none). */
  #oldestWaitMs(): number {
    const oldest = this.#inFlight.values().next();
    return oldest.done ? 0 : performance.now() - oldest.value.sentAt;
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
          let storageFailure: Error | null = null;
          (outcomes as WireOutcome[]).forEach((outcome, i) => {
            const write = group[i] as QueuedWrite;
            if (outcome.ok) return write.resolve(outcome.value);
            const error = fromWire(outcome.error);
            if (isStorageFailure(outcome.error)) storageFailure ??= error;
            write.reject(error);
          });
          if (storageFailure === null) this.#health.committed();
          else this.#health.failed(storageFailure);
        },
        (err: unknown) => {
          // The group's transaction failed as a whole (I/O error, disk full): none of it is durable.
          this.#health.failed(err as Error);
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
      this.#inFlight.set(id, { resolve, reject, sentAt: performance.now() });
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

function writesFail(cause: Error): Error {
  return new Error(`writes to the database fail (${cause.message})`, { cause });
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
