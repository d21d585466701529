/**
 * Retention benchmark: how long one prune (or redaction) step holds the database's write lock on a realistic
 * database, the number behind RetentionOptions.stepSize, and what the live traffic's writes see meanwhile.
 *
 *   npm run bench:retention
 *   BENCH_MESSAGES=200000 BENCH_STEPS=100,200 node --import tsx bench/retention.ts
 *
 * BENCH_STEPS: the step sizes (messages per step) to time, in turn, each for BENCH_TIMED steps; a dry run of each
 * (the same statements, rolled back: no commit) shows how much of a step is the SQL and how much the commit's writes.
 *
 * Builds a file database (WAL, synchronous=FULL, the real migrations) through the store's own engine: half
 * outbound messages (Idempotency-Key, a send attempt, `sent` and `delivered` receipts) and half inbound ones, with
 * one app endpoint taking every event, each event delivered with one attempt. Then times steps as the store's
 * worker runs them: one transaction each, BEGIN IMMEDIATE to COMMIT (with its fsync), which is how long the write
 * lock is held and how long a live write queued behind the step waits at most.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { NormalizedEvent } from '../src/core/provider.js';
import type { NewOutboundMessage, RetentionStep } from '../src/core/store.js';
import { Retention, RETENTION_DEFAULTS, type RetentionReport } from '../src/core/retention.js';
import { SqliteEngine, type WriteOp } from '../src/db/sqlite/sqlite-engine.js';
import { SqliteStore } from '../src/db/sqlite/sqlite.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const STEP_SIZES = (process.env.BENCH_STEPS ?? '100,200').split(',').map(Number);
const STEPS_TIMED = Number(process.env.BENCH_TIMED ?? 50);
const CHUNK = 500;

const dir = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'switchboard-bench-retention-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'retention.db');
const engine = new SqliteEngine(path);

function write(ops: WriteOp[]): unknown[] {
  return engine.write(ops).map((o) => {
    if (!o.ok) throw o.error;
    return o.value;
  });
}

const body = 'Your appointment with Dr. Example is confirmed for Tuesday at 10:30. Reply C to cancel.';
let n = 0;
const phone = () => `+1415${String(5_000_000 + (n % 900_000)).padStart(7, '0')}`;

function outbound(): NewOutboundMessage {
  n += 1;
  return {
    provider: 'twilio',
    channel: 'sms',
    from: '+14155550100',
    to: phone(),
    body,
    media: [],
    cc: [],
    segments: 1,
    encoding: 'GSM-7',
    statusCallback: null,
    idempotencyKey: `campaign-1:${n}`,
    requestHash: `hash-${n}`,
    createdBy: null,
  };
}

function status(sid: string, s: 'sent' | 'delivered', to: string): NormalizedEvent {
  return {
    kind: 'status',
    dedupeKey: `twilio:${sid}:${s}`,
    provider: 'twilio',
    providerMessageId: sid,
    status: s,
    providerStatus: s,
    errorCode: null,
    errorMessage: null,
    recipientOptedOut: false,
    from: '+14155550100',
    to,
    channel: 'sms',
    body: null,
    segments: null,
    encoding: null,
    occurredAt: Date.now(),
  };
}

/** A Twilio webhook's replay key, as the gateway makes it: the carrier, then a base64 HMAC-SHA1. */
const signature = (): string => `twilio ${randomBytes(20).toString('base64')}`;

function inbound(): NormalizedEvent {
  n += 1;
  return {
    kind: 'inbound_message',
    dedupeKey: `twilio:SMin${n}:received`,
    provider: 'twilio',
    providerMessageId: `SMin${n}${Math.random().toString(36).slice(2)}`,
    providerStatus: 'received',
    channel: 'sms',
    from: phone(),
    to: '+14155550100',
    cc: [],
    body,
    media: [],
    segments: 1,
    encoding: 'GSM-7',
    occurredAt: Date.now(),
  };
}

function build(): void {
  write([
    {
      op: 'syncEndpoints',
      endpoints: [
        {
          id: 'app',
          url: 'https://app.example/hook',
          events: ['message.received', 'message.status', 'message.failed'],
        },
      ],
    },
  ]);
  const started = performance.now();
  for (let made = 0; made < MESSAGES; made += CHUNK) {
    const half = CHUNK / 2;
    const items = Array.from({ length: half }, outbound);
    const [stored] = write([{ op: 'enqueue', messages: items }]) as { outcome: string; id: string }[][];
    const ids = stored!.map((r) => r.id);
    const sids = ids.map(
      () => `SM${Math.random().toString(16).slice(2)}${Math.random().toString(16).slice(2)}`,
    );
    write(
      ids.map((messageId, i) => ({
        op: 'recordSend',
        outcome: {
          kind: 'accepted',
          messageId,
          attempt: {
            provider: 'twilio',
            errorClass: null,
            errorCode: null,
            errorMessage: null,
            httpStatus: 201,
            startedAt: Date.now(),
            durationMs: 120,
          },
          providerMessageId: sids[i]!,
          providerStatus: 'queued',
          from: null,
        },
      })),
    );
    write(
      sids.flatMap((sid, i) => [
        {
          op: 'ingest',
          items: [{ event: status(sid, 'sent', items[i]!.to), optOut: null }],
          replayKey: signature(),
        },
        {
          op: 'ingest',
          items: [{ event: status(sid, 'delivered', items[i]!.to), optOut: null }],
          replayKey: signature(),
        },
      ]),
    );
    write(
      Array.from({ length: half }, () => ({
        op: 'ingest',
        items: [{ event: inbound(), optOut: null }],
        replayKey: signature(),
      })),
    );
    for (;;) {
      // Heads only (one per conversation): delivering them makes the next ones due.
      const pending = engine.loadDueDeliveries('app', Number.MAX_SAFE_INTEGER, [], 2_000);
      if (pending.length === 0) break;
      write(
        pending.map((d) => ({
          op: 'recordDelivery',
          result: {
            deliveryId: d.id,
            attempt: {
              outcome: 'delivered',
              statusCode: 204,
              error: null,
              startedAt: Date.now(),
              durationMs: 30,
            },
            nextAttemptAt: 0,
            disable: null,
            claimReply: null,
          },
        })),
      );
    }
    if ((made / CHUNK) % 40 === 0) process.stdout.write(`\rbuilding: ${made} messages`);
  }
  const sizeMb = (statSync(path).size + statSync(`${path}-wal`).size) / 1e6;
  process.stdout.write(
    `\rbuilt ${MESSAGES} messages in ${((performance.now() - started) / 1000).toFixed(0)} s: ` +
      `${sizeMb.toFixed(0)} MB, ${((sizeMb * 1e6) / MESSAGES).toFixed(0)} bytes per message\n`,
  );
}

/** Times steps from `startAfter`; answers where the last one ended. */
function timeSteps(
  op: 'pruneStep' | 'redactStep' | 'pruneReplayKeys',
  before: number,
  size: number,
  dryRun: boolean,
  startAfter: string | null,
): string | null {
  const times: number[] = [];
  const totals: Record<string, number> = {};
  let afterId = startAfter;
  for (let i = 0; i < STEPS_TIMED; i++) {
    const step: RetentionStep = { before, since: null, afterId, limit: size, dryRun };
    const started = performance.now();
    const [result] = write([{ op, step }]) as {
      counts: Record<string, number>;
      lastId: string | null;
      done: boolean;
    }[];
    times.push(performance.now() - started);
    for (const [k, v] of Object.entries(result!.counts)) totals[k] = (totals[k] ?? 0) + v;
    if (result!.done) break;
    afterId = result!.lastId;
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
  const rows = Object.entries(totals)
    .map(([k, v]) => `${k} ${(v / times.length).toFixed(0)}`)
    .join(', ');
  console.log(
    `${op}${dryRun ? ' dry run' : ''} (${size} ${op === 'pruneReplayKeys' ? 'keys' : 'messages'} per step, ` +
      `${times.length} steps): ` +
      `${dryRun ? 'SQL alone' : 'lock held'} p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, ` +
      `max ${at(1)} ms; rows per step: ${rows}`,
  );
  return afterId;
}

/** For scale: a live write's own transaction (one inbound message), commit and fsync included. */
function timeLiveWrites(): void {
  const times: number[] = [];
  for (let i = 0; i < 100; i++) {
    const started = performance.now();
    write([{ op: 'ingest', items: [{ event: inbound(), optOut: null }] }]);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(
    `one inbound message, for scale: p50 ${times[50]!.toFixed(1)} ms, max ${times[99]!.toFixed(1)} ms`,
  );
}

build();
timeLiveWrites();
// Everything built is older than this: redaction first (it leaves the rows in place), then deletion.
const cutoff = Date.now() + 1_000;
// Each size on messages no step has touched yet; the dry run first, on the messages the real steps then take.
let redactFrom: string | null = null;
for (const size of STEP_SIZES) {
  timeSteps('redactStep', cutoff, size, true, redactFrom);
  redactFrom = timeSteps('redactStep', cutoff, size, false, redactFrom);
}
for (const size of STEP_SIZES) {
  timeSteps('pruneStep', cutoff, size, true, null);
  timeSteps('pruneStep', cutoff, size, false, null);
}
// The webhook signatures remembered against re-splitting (three per outbound-and-inbound pair here): Retention
// takes ten times its message step of them.
for (const size of STEP_SIZES) {
  timeSteps('pruneReplayKeys', cutoff, size * 10, true, null);
  timeSteps('pruneReplayKeys', cutoff, size * 10, false, null);
}
engine.close();
await liveWritesDuringPrune(cutoff);

/**
 * What the live traffic sees: the store as the gateway runs it (worker thread, group commit) takes one inbound
 * message every 20 ms, first alone, then while Retention prunes the rest of the backlog with its defaults.
 */
async function liveWritesDuringPrune(before: number): Promise<void> {
  const store = await SqliteStore.open({ path });
  const live = async (until: () => boolean): Promise<number[]> => {
    const times: number[] = [];
    while (!until()) {
      const started = performance.now();
      await store.ingest([{ event: inbound(), optOut: null }]);
      times.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return times.sort((a, b) => a - b);
  };
  const show = (label: string, t: number[]) =>
    console.log(
      `${label}: ${t.length} writes, p50 ${t[Math.floor(t.length / 2)]!.toFixed(1)} ms, ` +
        `p99 ${t[Math.floor(t.length * 0.99)]!.toFixed(1)} ms, max ${t.at(-1)!.toFixed(1)} ms`,
    );
  const idleUntil = performance.now() + 5_000;
  show('live writes, alone', await live(() => performance.now() > idleUntil));
  const retention = new Retention({
    store,
    policy: { deleteAfterMs: 1, redactAfterMs: null },
    log: { debug() {}, info() {}, warn() {}, error() {} },
    now: () => before + 1,
  });
  let report: RetentionReport | null = null;
  const started = performance.now();
  const running = retention.run().then((r) => (report = r));
  show('live writes, during the prune', await live(() => report !== null));
  await running;
  const seconds = (performance.now() - started) / 1000;
  const r = report as RetentionReport | null;
  console.log(
    `the prune: ${r!.deleted.messages} messages in ${seconds.toFixed(1)} s ` +
      `(${(r!.deleted.messages / seconds).toFixed(0)} a second), ${r!.steps} steps of ${RETENTION_DEFAULTS.stepSize}, ` +
      `longest ${r!.longestStepMs.toFixed(0)} ms (round trip)`,
  );
  await store.close();
}
