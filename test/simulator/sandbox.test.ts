import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startSandbox, type Sandbox } from '../../src/sandbox.js';

let sandbox: Sandbox;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-sandbox-'));
  sandbox = await startSandbox(
    loadConfig({ SWITCHBOARD_SANDBOX: 'true', DATABASE_URL: join(dir, 'sandbox.db') }),
  );
});

afterAll(async () => {
  await sandbox.simulator.close();
});

describe('the sandbox simulator inside the gateway', () => {
  it('keeps its control API behind a token that never leaves the process', async () => {
    const { simulator, config } = sandbox;
    // A local process or web page that finds the port can neither read messages nor inject signed inbound ones.
    expect((await fetch(`${simulator.url}/_sim/messages`)).status).toBe(401);
    const inbound = await fetch(`${simulator.url}/_sim/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ provider: 'twilio', from: '+14155550123', to: '+14155550100', body: 'x' }),
    });
    expect(inbound.status).toBe(401);
    // The gateway's configuration (what it logs and shows) does not carry it.
    expect(JSON.stringify(config)).not.toContain(simulator.controlToken);
    const stats = await fetch(`${simulator.url}/_sim/stats`, {
      headers: { authorization: `Bearer ${simulator.controlToken}` },
    });
    expect(stats.status).toBe(200);
  });
});
