import { parentPort, workerData } from 'node:worker_threads';
import { SqliteEngine } from './sqlite-engine.js';
import {
  outcomesToWire,
  toWire,
  type DeliveriesNotice,
  type Ready,
  type Request,
  type Response,
  type WorkerInit,
} from './worker-protocol.js';

// The store's worker thread: owns the SQLite connection and answers the facade in sqlite.ts.
//
// Group commit happens here: every write request waiting in the port when the worker gets to them is committed in
// one transaction (one fsync), so groups grow by themselves while a commit is in progress. Requests are handled in
// arrival order, so a read sees every write the facade sent before it.

const port = parentPort;
if (port === null) throw new Error('sqlite-worker.ts runs as a worker thread (see sqlite.ts)');
const { path, minFreeDiskBytes } = workerData as WorkerInit;

let engine: SqliteEngine;
try {
  engine = new SqliteEngine(path, Date.now, { minFreeDiskBytes });
  port.postMessage({ ready: true } satisfies Ready);
} catch (err) {
  port.postMessage({ ready: false, error: toWire(err) } satisfies Ready);
  process.exit(1);
}

let queue: Request[] = [];
let scheduled = false;

// Messages are JSON strings: cheaper to copy between threads than a structured clone of many small objects.
port.on('message', (message: string) => {
  queue.push(JSON.parse(message) as Request);
  if (!scheduled) {
    scheduled = true;
    // After the port has delivered everything waiting, so those writes join this group.
    setImmediate(drain);
  }
});

function reply(response: Response): void {
  port!.postMessage(JSON.stringify(response));
}

function drain(): void {
  scheduled = false;
  const requests = queue;
  queue = [];
  let i = 0;
  while (i < requests.length) {
    const first = requests[i] as Request;
    if (first.op !== 'write') {
      reply(answer(first));
      if (first.op === 'close') port!.close();
      i += 1;
      continue;
    }
    // A run of consecutive write requests: one group, one commit.
    const run: Extract<Request, { op: 'write' }>[] = [];
    while (i < requests.length && requests[i]!.op === 'write')
      run.push(requests[i++] as Extract<Request, { op: 'write' }>);
    commit(run);
  }
}

function commit(run: Extract<Request, { op: 'write' }>[]): void {
  let outcomes;
  try {
    outcomes = outcomesToWire(engine.write(run.flatMap((r) => r.ops)));
  } catch (err) {
    // The group's commit failed as a whole: nothing in it is durable.
    const error = toWire(err);
    for (const r of run) reply({ id: r.id, ok: false, error });
    return;
  }
  let offset = 0;
  for (const r of run) {
    reply({ id: r.id, ok: true, value: outcomes.slice(offset, offset + r.ops.length) });
    offset += r.ops.length;
  }
  if (engine.takeCreatedDeliveries() > 0) {
    port!.postMessage(JSON.stringify({ notice: 'deliveries' } satisfies DeliveriesNotice));
  }
}

function answer(req: Exclude<Request, { op: 'write' }>): Response {
  try {
    return { id: req.id, ok: true, value: read(req) };
  } catch (err) {
    return { id: req.id, ok: false, error: toWire(err) };
  }
}

function read(req: Exclude<Request, { op: 'write' }>): unknown {
  switch (req.op) {
    case 'getMessage':
      return engine.getMessage(req.messageId);
    case 'listMessages':
      return engine.listMessages(req.filter, req.page);
    case 'isOptedOut':
      return engine.isOptedOut(req.phone, req.ourNumber);
    case 'optedOutAmong':
      return engine.optedOutAmong(req.phones, req.ourNumber);
    case 'existingIdempotencyKeys':
      return engine.existingIdempotencyKeys(req.keys);
    case 'loadOutbox':
      return engine.loadOutbox(req.provider, req.afterId, req.limit);
    case 'loadDueDeliveries':
      return engine.loadDueDeliveries(req.endpointId, req.now, req.exclude, req.limit, req.allowance);
    case 'loadDeliveryOf':
      return engine.loadDeliveryOf(req.endpointId, req.messageId);
    case 'listEndpoints':
      return engine.listEndpoints();
    case 'listApiKeys':
      return engine.listApiKeys();
    case 'listEvents':
      return engine.listEvents(req.filter, req.page);
    case 'getEvent':
      return engine.getEvent(req.eventId);
    case 'pragma':
      return engine.pragma(req.name, req.value);
    case 'ping':
      return engine.ping();
    case 'probe':
      return engine.probeWrite();
    case 'close':
      return engine.close();
  }
}
