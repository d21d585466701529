import { afterEach, describe, expect, it } from 'vitest';
import { twilioInbound } from '../helpers/carriers.js';
import { json, startGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
afterEach(async () => gw?.close());

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
