import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { twilioInbound } from '../helpers/carriers.js';
import { API_KEY, json, startGateway, type TestGateway } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-storage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let gw: TestGateway | undefined;
let locker: Database.Database | undefined;
afterEach(async () => {
  if (locker?.inTransaction) locker.exec('ROLLBACK');
  locker?.close();
  locker = undefined;
  await gw?.close();
  gw = undefined;
});

/** The requirement on /readyz: an answer within 2 s, whatever the store is doing. */
const READY_DEADLINE_MS = 2_000;

async function readyz(): Promise<{
  status: number;
  body: { error?: { code: string; message: string } };
  ms: number;
}> {
  const started = performance.now();
  const res = await fetch(`${gw!.base}/readyz`);
  return { status: res.status, body: await json(res), ms: performance.now() - started };
}

/** Asks /readyz until it answers `status`; every answer must come within the deadline. */
async function readyzUntil(status: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const answer = await readyz();
    expect(answer.ms).toBeLessThan(READY_DEADLINE_MS);
    if (answer.status === status) return;
    if (Date.now() > until)
      throw new Error(`/readyz still answers ${answer.status}: ${JSON.stringify(answer.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const send = (body: string) =>
  fetch(`${gw!.base}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to: '+14155550123', body }),
  });

/** A gateway on a database file (another connection can share it), sending nowhere (a closed port). */
async function fileGateway(name: string): Promise<string> {
  const path = join(dir, name);
  gw = await startGateway({ DATABASE_URL: path, TWILIO_FROM: '+14155550100' });
  return path;
}

describe('when storage is unavailable', () => {
  it('answers webhooks 503 (not acknowledged, so the carrier retries) and reports not ready', async () => {
    gw = await startGateway();
    await gw.store.close(); // the database is gone: a real store, really closed
    const res = await gw.postTwilio(twilioInbound());
    expect(res.status).toBe(503);
    expect((await json(res)).error.code).toBe('service_unavailable');
    const ready = await fetch(`${gw.base}/readyz`);
    expect(ready.status).toBe(503);
    expect((await json(ready)).error.code).toBe('service_unavailable');
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
  });
});

describe('/readyz follows writes', () => {
  it('answers 503 as soon as writes fail for a full disk, and ready again once they work', async () => {
    await fileGateway('full.db');
    await readyzUntil(200);
    // A real SQLITE_FULL: the gateway's own connection may not add a page to the database.
    await gw!.store.pragma('max_page_count', (await gw!.store.pragma('page_count')) as number);
    let refused = 0;
    for (let i = 0; i < 1000 && refused === 0; i++) {
      const res = await send(`message ${i} `.padEnd(1000, 'x'));
      if (res.status === 503) refused += 1;
      else expect(res.status).toBe(202);
    }
    expect(refused).toBe(1);

    const answer = await readyz();
    expect(answer.status).toBe(503);
    expect(answer.ms).toBeLessThan(READY_DEADLINE_MS);
    expect(answer.body.error).toEqual({
      code: 'service_unavailable',
      message: expect.stringContaining('database or disk is full'),
    });
    // Still not ready a few seconds on, while the dispatcher's smaller writes (its records of the sends' tries)
    // may commit meanwhile: only a write that needs new pages shows the disk has room again.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await readyz()).status).toBe(503);
    expect((await send('still full '.padEnd(1000, 'x'))).status).toBe(503);

    await gw!.store.pragma('max_page_count', 1_000_000_000); // room again
    await readyzUntil(200);
    expect((await send('room again')).status).toBe(202);
  });

  it('answers 503 within 2 s while another process holds the write lock and a write waits for it', async () => {
    const path = await fileGateway('locked.db');
    await readyzUntil(200);
    locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE'); // e.g. a backup tool, or a second gateway started on the same file
    const waiting = send('waits for the lock'); // the store's worker waits up to 5 s for the lock
    // Ready until the write reaches the worker; then 503, each answer within the deadline.
    await readyzUntil(503, 4_000);
    // Asked again while the write still waits: at once, from what the store knows.
    const again = await readyz();
    expect(again.status).toBe(503);
    expect(again.ms).toBeLessThan(READY_DEADLINE_MS);
    expect(again.body.error?.message).toMatch(/has waited \d+\.\d s for an answer/);

    locker.exec('ROLLBACK');
    expect((await waiting).status).toBe(202);
    await readyzUntil(200);
  });

  it('refuses a write with 503 once it has waited busy_timeout (5 s) for a lock held elsewhere, not twice that', async () => {
    const path = await fileGateway('held.db');
    locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
    const started = performance.now();
    const res = await send('waits for a lock never released');
    const waited = performance.now() - started;
    expect(res.status).toBe(503);
    expect((await json(res)).error.code).toBe('service_unavailable');
    expect(waited).toBeGreaterThan(4_500);
    expect(waited).toBeLessThan(8_000);
  });

  it('answers 503 within 2 s when the write lock is held while the gateway is idle, and ready once released', async () => {
    const path = await fileGateway('idle-locked.db');
    await readyzUntil(200);
    locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
    // Nothing is written meanwhile: only a probe can tell (an idle gateway probes every 5 s).
    await readyzUntil(503, 10_000);
    const answer = await readyz();
    expect(answer.body.error?.message).toContain('database is locked');
    locker.exec('ROLLBACK');
    await readyzUntil(200);
  });

  it('keeps reads fast while another process holds the write lock and /readyz is polled', async () => {
    const path = await fileGateway('probe-reads.db');
    locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
    // Reads never wait for a writer (WAL). The probe runs on the store's only worker, so every read behind it
    // waits as long as the probe waits for the lock.
    await readyzUntil(503, 10_000);
    expect((await readyz()).body.error?.message).toContain('database is locked');
    let polling = true;
    const poller = (async () => {
      // An orchestrator asking every 250 ms: a probe each second, as writes fail.
      while (polling) {
        await readyz();
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    const readsMs: number[] = [];
    try {
      for (let i = 0; i < 16; i++) {
        const started = performance.now();
        const res = await fetch(`${gw!.base}/v1/messages?limit=5`, {
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        expect(res.status).toBe(200);
        await res.text();
        readsMs.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    } finally {
      polling = false;
      await poller;
    }
    // A probe waiting a second for the lock made every other read take a second.
    expect(Math.max(...readsMs)).toBeLessThan(500);
  });
});
