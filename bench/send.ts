/**
 * Send benchmark: how fast the gateway gets messages from its API to a carrier, against the raw SDK doing the
 * same, plus the API's accept rate and the precision of the configured rate limit.
 *
 *   npm run bench:send                    (builds dist/ first)
 *   BENCH_DURATION=20 npm run bench:send  (seconds per throughput run; default 10)
 *
 * Processes, all on 127.0.0.1: the provider simulator (src/simulator/main.ts, status callbacks off: they would
 * cost the simulator more than the sends), a gateway child (dist/main.js) per scenario with its own file
 * database, and this process as the client.
 *
 * Scenarios:
 *   1. sdk baseline (per carrier): this process calls the official SDK (twilio messages.create / telnyx
 *      messages.send) with CONCURRENCY calls in flight for the duration: messages acknowledged per second.
 *   2. end to end (per carrier): the gateway with limits lifted (mps null, the same CONCURRENCY); the client posts
 *      batches of 1000; the clock runs from the first POST to the simulator's acknowledgement of the last message.
 *   3. accept rate: autocannon, 50 connections, POST /v1/messages (one message each): 202s per second and p99,
 *      with the carrier lanes at their default 10 segments/s, so delivery costs next to nothing.
 *   4. rate-limit precision: the gateway at MPS_LIMIT segments/s, the simulator applying the same limit as the
 *      carriers do (what comes faster than one second's worth waits in the sender's queue, and a full queue
 *      refuses or fails it); a mix of 1- and 2-segment messages; the rate measured at the simulator, and the
 *      misses: messages the carrier had to queue beyond the rate, refused or failed for rate, or answered 429.
 *
 * Exit code: 0 when everything ran (goals met or not: this is a measurement); 1 when something broke.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Telnyx from 'telnyx';
import twilio from 'twilio';
import { TwilioHttpClient } from '../src/providers/twilio/http-client.js';
import { SANDBOX_TELNYX, SANDBOX_TWILIO, type SimulatedMessage } from '../src/simulator/simulator.js';
import { freePort, HOST, killAllChildren, ServerProcess } from './server-process.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const GATEWAY_ENTRY = join(ROOT, 'dist', 'main.js');
const SIMULATOR_ENTRY = join(ROOT, 'src', 'simulator', 'main.ts');

const GOALS = { endToEndRatio: 0.7, acceptedPerSec: 5_000, mpsTolerance: 0.03 } as const;
const CONCURRENCY = 16;
const BATCH = 1_000;
const MPS_LIMIT = 50;
const API_KEY = 'bench-send-api-key-0123456789';
const TO = '+14155550123';
const FROM = { twilio: '+14155550100', telnyx: '+13125550001' } as const;
type Carrier = keyof typeof FROM;

const durationSec = Number(process.env.BENCH_DURATION ?? 10);
// The simulator's control API needs a token; its stdout (where it prints its own) is not read, so one is given.
const SIM_CONTROL_TOKEN = randomBytes(32).toString('base64url');
// Extra `node` flags for the gateway only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (see bench/cpuprofile-summary.ts).
const gatewayNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const SCENARIOS = ['twilio', 'telnyx', 'accept', 'rate'] as const;
const scenarios = (process.env.BENCH_SCENARIOS ?? SCENARIOS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is (typeof SCENARIOS)[number] => (SCENARIOS as readonly string[]).includes(s));
const tmpRoot = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'switchboard-bench-send-'));
process.on('exit', () => {
  killAllChildren();
  rmSync(tmpRoot, { recursive: true, force: true });
});

async function startSimulator(): Promise<{ process: ServerProcess; url: string }> {
  const port = await freePort();
  const server = await ServerProcess.start({
    name: 'simulator',
    args: ['--import', 'tsx', SIMULATOR_ENTRY],
    env: {
      PATH: process.env.PATH ?? '',
      SIMULATOR_PORT: String(port),
      SIMULATOR_HOST: HOST,
      SIMULATOR_CALLBACKS: 'false',
      SIMULATOR_CONTROL_TOKEN: SIM_CONTROL_TOKEN,
    },
    cwd: ROOT,
    port,
    startTimeoutMs: 20_000,
  });
  return { process: server, url: `http://${HOST}:${port}` };
}

async function control(sim: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(sim + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${SIM_CONTROL_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`simulator ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

interface SimStats {
  requests: number;
  accepted: number;
  rateLimited: number;
  errors: number;
  queued: number;
  queueFull: number;
  expired: number;
}

async function simStats(sim: string, carrier: Carrier): Promise<SimStats> {
  const stats = (await control(sim, '/_sim/stats')) as Record<Carrier, SimStats>;
  return stats[carrier];
}

async function startGateway(
  sim: string,
  name: string,
  providers: Record<Carrier, Record<string, unknown>>,
  defaultProvider: Carrier,
): Promise<{ process: ServerProcess; base: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpRoot, `${name}-`));
  const configPath = join(dir, 'switchboard.json');
  writeFileSync(configPath, JSON.stringify({ defaultProvider, providers }));
  const server = await ServerProcess.start({
    name: `gateway (${name})`,
    args: [...gatewayNodeArgs, '--enable-source-maps', GATEWAY_ENTRY],
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      HOST,
      DATABASE_URL: join(dir, 'switchboard.db'),
      LOG_LEVEL: 'warn',
      SWITCHBOARD_API_KEYS: API_KEY,
      // The per-key limiter stays on (its cost is part of what is measured) at a limit the load never reaches;
      // BENCH_API_RATE_LIMIT=0 turns it off, to compare.
      API_RATE_LIMIT_PER_MINUTE: process.env.BENCH_API_RATE_LIMIT ?? '10000000',
      SWITCHBOARD_CONFIG: configPath,
      PUBLIC_BASE_URL: `http://${HOST}:${port}`,
      TWILIO_ACCOUNT_SID: SANDBOX_TWILIO.accountSid,
      TWILIO_AUTH_TOKEN: SANDBOX_TWILIO.authToken,
      TWILIO_API_BASE_URL: sim,
      TELNYX_PUBLIC_KEY: SANDBOX_TELNYX.publicKey,
      TELNYX_API_KEY: SANDBOX_TELNYX.apiKey,
      TELNYX_API_BASE_URL: `${sim}/v2`,
    },
    cwd: ROOT,
    port,
    startTimeoutMs: 20_000,
  });
  return { process: server, base: `http://${HOST}:${port}` };
}

/** Scenario 1: the official SDK alone, CONCURRENCY calls in flight, for the duration. */
async function sdkBaseline(sim: string, carrier: Carrier): Promise<number> {
  const send = sdkSender(sim, carrier);
  let acked = 0;
  let failed = 0;
  const started = performance.now();
  const until = started + durationSec * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let i = 0; performance.now() < until; i++) {
        try {
          await send(`baseline ${worker}-${i}`);
          acked += 1;
        } catch {
          failed += 1;
        }
      }
    }),
  );
  if (failed > 0) throw new Error(`the ${carrier} SDK baseline had ${failed} failed sends`);
  return acked / ((performance.now() - started) / 1000);
}

function sdkSender(sim: string, carrier: Carrier): (body: string) => Promise<unknown> {
  if (carrier === 'twilio') {
    const client = twilio(SANDBOX_TWILIO.accountSid, SANDBOX_TWILIO.authToken, {
      httpClient: new TwilioHttpClient({ baseUrl: sim, timeoutMs: 10_000 }),
    });
    return (body) => client.messages.create({ to: TO, from: FROM.twilio, body });
  }
  const client = new Telnyx({ apiKey: SANDBOX_TELNYX.apiKey, baseURL: `${sim}/v2`, maxRetries: 0 });
  return (body) => client.messages.send({ to: TO, from: FROM.telnyx, text: body });
}

async function postBatch(base: string, bodies: string[]): Promise<void> {
  const res = await fetch(`${base}/v1/messages/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: bodies.map((body) => ({ to: TO, body })) }),
  });
  if (res.status !== 202)
    throw new Error(`batch answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
}

/** Scenario 2: API -> store -> dispatcher -> SDK -> simulator acknowledgement, limits lifted. */
async function endToEnd(sim: string, carrier: Carrier, count: number): Promise<number> {
  const gateway = await startGateway(
    sim,
    `e2e-${carrier}`,
    {
      twilio: { from: FROM.twilio, mps: null, concurrency: CONCURRENCY },
      telnyx: { from: FROM.telnyx, mps: null, concurrency: CONCURRENCY },
    },
    carrier,
  );
  try {
    await control(sim, '/_sim/reset', {});
    const started = performance.now();
    const batches = Math.ceil(count / BATCH);
    // Four batches in flight: the API side keeps ahead of delivery without one giant request.
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < batches) {
          const b = next++;
          const size = Math.min(BATCH, count - b * BATCH);
          await postBatch(
            gateway.base,
            Array.from({ length: size }, (_, i) => `e2e ${b}-${i}`),
          );
        }
      }),
    );
    const deadline = Date.now() + 120_000;
    for (;;) {
      const stats = await simStats(sim, carrier);
      if (stats.accepted >= count) break;
      if (stats.errors + stats.rateLimited > 0)
        throw new Error(`the simulator answered errors: ${JSON.stringify(stats)}`);
      if (Date.now() > deadline)
        throw new Error(`only ${stats.accepted} of ${count} messages reached the carrier`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return count / ((performance.now() - started) / 1000);
  } finally {
    await gateway.process.stop();
  }
}

/** Scenario 3: 202s per second on POST /v1/messages. */
// Valid US numbers (real area codes, exchanges 200-999), distinct for the first 5.6 million requests.
const AREA_CODES = [212, 312, 415, 646, 718, 773, 917];
function recipient(i: number): string {
  const area = AREA_CODES[i % AREA_CODES.length] as number;
  const rest = Math.floor(i / AREA_CODES.length);
  return `+1${area}${200 + (Math.floor(rest / 10_000) % 800)}${String(rest % 10_000).padStart(4, '0')}`;
}

async function acceptRate(
  sim: string,
): Promise<{ perSec: number; p99Ms: number; non202: number; batchPerSec: number }> {
  let sent = 0;
  const gateway = await startGateway(
    sim,
    'accept',
    { twilio: { from: FROM.twilio, mps: 10 }, telnyx: { from: FROM.telnyx, mps: 10 } },
    'twilio',
  );
  try {
    const run = (seconds: number, path: string, connections: number, body: () => unknown) =>
      new Promise<autocannon.Result>((resolve, reject) => {
        autocannon(
          {
            url: `${gateway.base}${path}`,
            connections,
            duration: seconds,
            method: 'POST',
            headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
            // A different recipient each time, as notification traffic has: nothing per number is reused.
            requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(body()) }) }],
          },
          (err, result) =>
            err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(result),
        );
      });
    const single = () => ({ to: recipient(sent++), body: 'Your code is 123456' });
    await run(2, '/v1/messages', 50, single); // warm-up
    const result = await run(durationSec, '/v1/messages', 50, single);
    const accepted = result.statusCodeStats?.['202']?.count ?? 0;
    // The same, 100 messages per request: what an app sending in bulk gets.
    const batch = () => ({ messages: Array.from({ length: 100 }, single) });
    const batches = await run(Math.max(3, Math.round(durationSec / 2)), '/v1/messages/batch', 8, batch);
    const batchAccepted = (batches.statusCodeStats?.['202']?.count ?? 0) * 100;
    return {
      perSec: accepted / result.duration,
      p99Ms: result.latency.p99,
      non202: result.requests.total - accepted + (batches.requests.total - batchAccepted / 100),
      batchPerSec: batchAccepted / batches.duration,
    };
  } finally {
    await gateway.process.stop();
  }
}

/** Scenario 4: the configured segments per second, as the carrier sees it. */
async function ratePrecision(
  sim: string,
): Promise<{ measured: number; misses: number; queued: number; rateLimited: number; segments: number }> {
  const gateway = await startGateway(
    sim,
    'rate',
    {
      twilio: { from: FROM.twilio, mps: MPS_LIMIT, concurrency: 4 },
      telnyx: { from: FROM.telnyx, mps: MPS_LIMIT, concurrency: 4 },
    },
    'twilio',
  );
  try {
    await control(sim, '/_sim/reset', {});
    await control(sim, '/_sim/faults/twilio', { mps: MPS_LIMIT });
    // Long enough to average out timer jitter: durationSec seconds of segments, one message in three 2 segments.
    const bodies: string[] = [];
    let segments = 0;
    for (let i = 0; segments < MPS_LIMIT * durationSec; i++) {
      const two = i % 3 === 2;
      bodies.push(two ? `${'x'.repeat(200)} ${i}` : `rate ${i}`);
      segments += two ? 2 : 1;
    }
    await postBatch(gateway.base, bodies);
    const deadline = Date.now() + durationSec * 3000 + 30_000;
    while ((await simStats(sim, 'twilio')).accepted < bodies.length) {
      if (Date.now() > deadline) throw new Error('the rate-limited run did not finish');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const messages = (await control(sim, '/_sim/messages?provider=twilio')) as SimulatedMessage[];
    const measured = segmentsPerSecond(messages);
    await control(sim, '/_sim/faults/twilio', { mps: null });
    const stats = await simStats(sim, 'twilio');
    // A miss: a message the carrier had to hold back or turn away because it came too fast.
    const misses = stats.queued + stats.queueFull + stats.expired + stats.rateLimited;
    return { measured, misses, queued: stats.queued, rateLimited: stats.rateLimited, segments };
  } finally {
    await gateway.process.stop();
  }
}

/**
 * The sending rate as the carrier saw it: the least-squares slope of segments sent so far against the time each
 * message arrived. Unlike first-to-last, one slow first call (a new connection) does not skew it.
 */
function segmentsPerSecond(messages: SimulatedMessage[]): number {
  const sorted = [...messages].sort((a, b) => a.acceptedAt - b.acceptedAt);
  let before = 0;
  const points = sorted.map((m) => {
    const point = { x: m.acceptedAt / 1000, y: before };
    before += m.segments;
    return point;
  });
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxy / sxx;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');

async function main(): Promise<void> {
  console.log(`bench:send: ${durationSec} s per run, concurrency ${CONCURRENCY}, node ${process.version}`);
  const sim = await startSimulator();
  try {
    for (const carrier of (['twilio', 'telnyx'] as const).filter((c) => scenarios.includes(c))) {
      await control(sim.url, '/_sim/reset', {});
      const baseline = await sdkBaseline(sim.url, carrier);
      const count = Math.max(BATCH, Math.round((baseline * durationSec) / BATCH) * BATCH);
      const e2e = await endToEnd(sim.url, carrier, count);
      const ratio = e2e / baseline;
      console.log(
        `${carrier}: raw SDK ${fmt(baseline)} msg/s; gateway end to end ${fmt(e2e)} msg/s (${fmt(count)} messages) ` +
          `= ${ratio.toFixed(2)}x (goal >= ${GOALS.endToEndRatio}x: ${mark(ratio >= GOALS.endToEndRatio)})`,
      );
    }
    if (scenarios.includes('accept')) {
      const accept = await acceptRate(sim.url);
      console.log(
        `accept rate: ${fmt(accept.perSec)} 202/s one message per request (p99 ${accept.p99Ms} ms); ` +
          `${fmt(accept.batchPerSec)} messages/s in batches of 100; ${accept.non202} other answers ` +
          `(goal >= ${fmt(GOALS.acceptedPerSec)}/s: ${mark(accept.perSec >= GOALS.acceptedPerSec && accept.non202 === 0)})`,
      );
    }
    if (!scenarios.includes('rate')) return;
    const rate = await ratePrecision(sim.url);
    const error = Math.abs(rate.measured - MPS_LIMIT) / MPS_LIMIT;
    console.log(
      `rate limit: configured ${MPS_LIMIT} segments/s, measured ${rate.measured.toFixed(2)} over ${rate.segments} ` +
        `segments (${(error * 100).toFixed(2)}% off), ${rate.misses} misses at the simulator ` +
        `(${rate.queued} queued beyond the rate, ${rate.rateLimited} 429s) ` +
        `(goal within ${GOALS.mpsTolerance * 100}% and zero misses: ${mark(error <= GOALS.mpsTolerance && rate.misses === 0)})`,
    );
  } finally {
    await sim.process.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
