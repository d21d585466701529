import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/core/retention.js';
import { newSecret, TestApp } from '../helpers/app-server.js';
import { twilioInbound } from '../helpers/carriers.js';
import { json, startGateway, type TestGateway } from '../helpers/gateway.js';
import { startSendGateway } from '../helpers/send-gateway.js';
import { captureLogs } from '../helpers/log-capture.js';
import { eventually, until } from '../helpers/wait.js';

// RETENTION_DAYS and REDACT_BODIES_AFTER_DAYS in a running gateway: the periodic run, what the API shows of a
// redacted message, the log line, and a clean stop. The gateway's retention clock runs ahead (an injected clock),
// so today's messages are "old".

let gw: TestGateway | undefined;
let app: TestApp | undefined;
const TO = '+14155550123';

afterEach(async () => {
  await gw?.close();
  await app?.close();
  gw = app = undefined;
});

describe('retention in the gateway', () => {
  it('redacts, then deletes, old messages periodically; the API shows a redaction; the log has counts only', async () => {
    app = await TestApp.start();
    const logs = captureLogs('info');
    let ahead = 0;
    gw = await startGateway(
      {
        APP_WEBHOOK_URL: `${app.url}/events`,
        APP_WEBHOOK_SECRET: newSecret(),
        RETENTION_DAYS: '90',
        REDACT_BODIES_AFTER_DAYS: '30',
      },
      {
        logger: logs.logger,
        retention: { firstRunDelayMs: 50, intervalMs: 100, minPauseMs: 1, now: () => Date.now() + ahead },
      },
    );
    const res = await gw.postTwilio(
      twilioInbound({
        Body: 'my PIN is 4321',
        NumMedia: '1',
        MediaUrl0: 'https://api.twilio.com/media/ME1',
        MediaContentType0: 'image/jpeg',
      }),
    );
    expect(res.status).toBe(200);
    await app.waitFor(1); // the app has the event: nothing holds the message any more
    const [message] = (await json(await gw.api('/v1/messages'))).data;
    expect(message).toMatchObject({ body: 'my PIN is 4321', redactedAt: null });
    const [event] = (await json(await gw.api('/v1/events'))).data;
    await until(
      async () => (await gw!.store.getEvent(event.id))!.deliveries[0]!.state === 'delivered',
      5000,
      'the delivery recorded',
    );

    ahead = 31 * DAY_MS;
    const redacted = await eventually(async () => {
      const m = await json(await gw!.api(`/v1/messages/${message.id}`));
      return m.redactedAt === null ? null : m;
    }, 10_000);
    expect(redacted).toMatchObject({ body: '', media: [], from: '+14155550123', status: 'received' });
    expect(Date.parse(redacted.redactedAt)).not.toBeNaN();
    const detail = await json(await gw.api(`/v1/events/${event.id}`));
    expect(detail.payload.data).toMatchObject({ body: '', media: [], redactedAt: redacted.redactedAt });
    expect(JSON.stringify(detail)).not.toContain('4321');

    ahead = 91 * DAY_MS;
    await until(async () => (await gw!.api(`/v1/messages/${message.id}`)).status === 404, 10_000, 'deleted');
    expect((await gw.api(`/v1/events/${event.id}`)).status).toBe(404);

    // The runs' reports (the start's line says what the policy is).
    const lines = logs.lines.filter((l) => String(l.msg).startsWith('retention:') && 'steps' in l);
    expect(lines.find((l) => (l.redacted as { messages: number }).messages === 1)).toMatchObject({
      deleted: { messages: 0 },
      complete: true,
    });
    expect(lines.find((l) => (l.deleted as { messages: number }).messages === 1)).toMatchObject({
      msg: 'retention: deleted 1 messages and 1 events, redacted 0 messages',
      // The Twilio webhook's signature, remembered against re-splitting, goes with the message.
      deleted: { messages: 1, history: 1, events: 1, deliveries: 1, deliveryAttempts: 1, replayKeys: 1 },
    });
    // Counts only: no body, no phone number, no id.
    expect(lines.map((l) => JSON.stringify(l)).join('\n')).not.toMatch(
      /4321|5550123|[0-9a-f]{8}-[0-9a-f]{4}-7/,
    );

    // Shutdown stops it: nothing runs (or fails) after the close.
    await gw.close();
    gw = undefined;
    const count = logs.lines.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(logs.lines.slice(count).filter((l) => String(l.msg).startsWith('retention'))).toEqual([]);
  });

  it('still shows an event stored before redaction existed (its payload has no redactedAt)', async () => {
    app = await TestApp.start();
    const database = join(mkdtempSync(join(tmpdir(), 'switchboard-retention-')), 'gw.db');
    gw = await startGateway({
      DATABASE_URL: database,
      APP_WEBHOOK_URL: `${app.url}/events`,
      APP_WEBHOOK_SECRET: newSecret(),
    });
    expect((await gw.postTwilio(twilioInbound({ Body: 'from an older version' }))).status).toBe(200);
    const [event] = (await json(await gw.api('/v1/events'))).data;
    // As the previous version stored it: the message without the field.
    const db = new Database(database);
    db.prepare("UPDATE events SET payload = json_remove(payload, '$.data.redactedAt') WHERE id = ?").run(
      event.id,
    );
    db.close();
    const res = await gw.api(`/v1/events/${event.id}`);
    expect(res.status).toBe(200);
    const detail = await json(res);
    expect(detail.payload.data).toMatchObject({ body: 'from an older version' });
    expect(detail.payload.data).not.toHaveProperty('redactedAt');
  });

  it('leaves nothing in the database file from which a redacted body can be found: no body, key or request hash', async () => {
    const database = join(mkdtempSync(join(tmpdir(), 'switchboard-retention-')), 'gw.db');
    let ahead = 0;
    const send = await startSendGateway({
      env: { DATABASE_URL: database, REDACT_BODIES_AFTER_DAYS: '30' },
      deps: {
        retention: { firstRunDelayMs: 50, intervalMs: 100, minPauseMs: 1, now: () => Date.now() + ahead },
      },
    });
    gw = send;
    const CODE = '482913';
    const single = await send.send(
      { to: TO, body: `Your code is ${CODE}` },
      { 'idempotency-key': 'otp-single' },
    );
    expect(single.status).toBe(202);
    // A batch's header key holds the item's request hash in the key's own text.
    const batch = await send.send(
      { messages: [{ to: '+14155550124', body: `Your code is ${CODE}` }] },
      { 'idempotency-key': 'otp-batch' },
      '/v1/messages/batch',
    );
    expect(batch.status).toBe(202);
    const ids = [(await json(single)).id as string, (await json(batch)).data[0].message.id as string];
    for (const id of ids) await send.waitForStatus(id, 'delivered');
    const stored = new Database(database, { readonly: true });
    const keys = stored.prepare('SELECT key, request_hash AS hash FROM idempotency_keys').all() as {
      key: string;
      hash: string;
    }[];
    stored.close();
    expect(keys).toHaveLength(2);
    const secrets = [CODE, ...keys.flatMap(({ key, hash }) => [key, hash])];

    ahead = 31 * DAY_MS;
    for (const id of ids) await send.waitFor(id, (m) => m.redactedAt !== null, 10_000);
    // A retry of the old request is a new one now: its key no longer matches.
    expect(await send.store.existingIdempotencyKeys(keys.map((k) => k.key))).toEqual([]);
    await send.close(); // the store is closed: the write-ahead log is checkpointed into the file
    gw = undefined;
    for (const file of [database, `${database}-wal`]) {
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      for (const secret of secrets) expect(bytes.includes(secret), `${secret} in ${file}`).toBe(false);
    }
  });
});
