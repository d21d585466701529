/**
 * Ingest benchmark: how many signed carrier webhooks per second the gateway accepts, stores durably and
 * acknowledges, relative to a bare Fastify server on the same machine.
 *
 *   npm run bench:ingest                    (builds dist/ first)
 *   BENCH_DURATION=30 npm run bench:ingest  (seconds per measured run; default 10)
 *
 * Other knobs: BENCH_WARMUP (seconds, default 3), BENCH_SCENARIOS (comma list of baseline,twilio,telnyx),
 * BENCH_SERVER_NODE_ARGS (extra `node` flags for the gateway only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"),
 * BENCH_TMPDIR (where the temporary databases go; default the OS temp dir), BENCH_APP_EVENTS=true (the gateway
 * also delivers every message as a signed event to an app on loopback, in this process, answering 204: the cost of
 * events, and how many were delivered while the load ran), BENCH_CONVERSATIONS (how many senders write in; default
 * 4; events reach an app in order, one at a time, per sender).
 *
 * Scenarios, each against its own fresh server child process on 127.0.0.1, 50 connections:
 *   1. baseline: bench/baseline-server.ts, loaded with the same signed Twilio requests as scenario 2;
 *   2. twilio:   dist/main.js, unique signed Twilio inbound SMS webhooks;
 *   3. telnyx:   dist/main.js, unique signed Telnyx message.received webhooks.
 * Each is warmed up, then measured; the gateway's database (a real file: synchronous=FULL fsyncs are part of the
 * cost) is then reconciled with the responses the client received.
 *
 * Caveat: this machine has 2 cores and autocannon runs in this process, so the load generator and the server
 * compete for CPU. Absolute req/s are lower than on separate machines, and the client's per-request cost is
 * paid by every scenario; the ratio to the baseline is the comparable figure. To keep that cost small and equal,
 * requests are signed before each measured run (see RequestFeed).
 *
 * Exit code: 0 when everything ran, whether or not the goals were met (this is a measurement); 1 when something
 * broke: a server failed to start or stop, a request got a non-2xx or a connection error, or an acknowledged
 * message is missing from the database.
 */
import { existsSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppSink } from './app-sink.js';
import { CONNECTIONS, Ledger, runLoad, type LoadResult } from './load.js';
import {
  makeCredentials,
  senders,
  RequestFeed,
  telnyxFactory,
  twilioFactory,
  type Credentials,
  type RequestFactory,
} from './requests.js';
import { freePort, HOST, killAllChildren, ServerProcess, type StopOutcome } from './server-process.js';
import { checkStorage, type StorageCheck } from './storage.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const GATEWAY_ENTRY = join(ROOT, 'dist', 'main.js');
const BASELINE_ENTRY = join(ROOT, 'bench', 'baseline-server.ts');

const GOALS = {
  twilioRatio: 0.5,
  telnyxRatio: 0.25,
  p99Ms: 15,
  rssMb: 250,
} as const;

const START_TIMEOUT_MS = 20_000;
// The gateway gives itself 10 s to shut down (src/main.ts); allow a little more before SIGKILL.
const STOP_GRACE_MS = 15_000;
// The warm-up is served from a pool sized for this many req/s (above anything this 2-core machine reaches), so
// that the client is as light as in the measured run and the warm-up's rate is a fair estimate of it.
const WARMUP_POOL_RATE = 20_000;
// The measured pool holds the warm-up's best one-second rate times this, for the whole measured duration.
const POOL_HEADROOM = 1.5;
const POOL_MIN = 2_000;
// A memory bound for the client: ~1 KB per pooled request.
const POOL_MAX = 600_000;
const TMPFS_MAGIC = 0x01021994;
const MB = 1_000_000;

type ScenarioName = 'baseline' | 'twilio' | 'telnyx';
const ALL_SCENARIOS: readonly ScenarioName[] = ['baseline', 'twilio', 'telnyx'];

interface Settings {
  durationSec: number;
  warmupSec: number;
  scenarios: ScenarioName[];
  gatewayNodeArgs: string[];
  tmpRoot: string;
  appEvents: boolean;
  conversations: number;
}

interface ScenarioResult {
  name: ScenarioName;
  warmup: LoadResult;
  measured: LoadResult;
  peakRssBytes: number | null;
  /** CPU used during the measured run, in % of one core (200% = both cores), by the server and by this process. */
  serverCpuPct: number | null;
  clientCpuPct: number;
  stop: StopOutcome;
  storage: StorageCheck | null;
  /** Autocannon's 2xx over warm-up and measured run, to compare with the database. */
  total2xx: number;
}

type Outcome = { ok: true; result: ScenarioResult } | { ok: false; name: ScenarioName; error: string };

const tempDirs: string[] = [];

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const seconds = (name: string, fallback: number): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > 3_600) {
      throw new Error(`${name} must be a whole number of seconds from 1 to 3600, got "${raw}".`);
    }
    return value;
  };
  const scenarios = (env.BENCH_SCENARIOS ?? ALL_SCENARIOS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of scenarios) {
    if (!ALL_SCENARIOS.includes(s as ScenarioName)) {
      throw new Error(`BENCH_SCENARIOS: unknown scenario "${s}"; use ${ALL_SCENARIOS.join(', ')}.`);
    }
  }
  return {
    durationSec: seconds('BENCH_DURATION', 10),
    warmupSec: seconds('BENCH_WARMUP', 3),
    scenarios: ALL_SCENARIOS.filter((s) => scenarios.includes(s)),
    gatewayNodeArgs: (env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== ''),
    tmpRoot: env.BENCH_TMPDIR?.trim() || tmpdir(),
    appEvents: env.BENCH_APP_EVENTS === 'true',
    conversations: conversations(env.BENCH_CONVERSATIONS),
  };
}

function conversations(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 4;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 10_000) {
    throw new Error(`BENCH_CONVERSATIONS must be a whole number from 1 to 10000, got "${raw}".`);
  }
  return value;
}

/** The gateway's environment: only what it is configured by, nothing inherited (no stray PROCESSING_MODE...). */
function gatewayEnv(port: number, dbPath: string, credentials: Credentials): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    PORT: String(port),
    HOST,
    DATABASE_URL: dbPath,
    TWILIO_ACCOUNT_SID: credentials.twilioAccountSid,
    TWILIO_AUTH_TOKEN: credentials.twilioAuthToken,
    TELNYX_PUBLIC_KEY: credentials.telnyxPublicKeyBase64,
    LOG_LEVEL: 'info',
    // Twilio signs the URL it called; with this set the gateway rebuilds exactly the URL the client signed.
    PUBLIC_BASE_URL: `http://${HOST}:${port}`,
  };
}

async function runScenario(
  name: ScenarioName,
  settings: Settings,
  credentials: Credentials,
): Promise<ScenarioResult> {
  const port = await freePort();
  const url = `http://${HOST}:${port}/webhooks`;
  // The baseline gets Twilio requests signed exactly as for the gateway (it does not check them).
  const factory: RequestFactory =
    name === 'telnyx'
      ? telnyxFactory(credentials, senders(settings.conversations))
      : twilioFactory(credentials, url, senders(settings.conversations));
  const feed = new RequestFeed(factory);
  const ledger = new Ledger();

  let dbPath: string | null = null;
  let server: ServerProcess;
  const sink = settings.appEvents && name !== 'baseline' ? await AppSink.start(HOST) : null;
  const eventsEnv: Record<string, string> = sink
    ? { APP_WEBHOOK_URL: sink.url(HOST), APP_WEBHOOK_SECRET: sink.secret }
    : {};
  if (name === 'baseline') {
    server = await ServerProcess.start({
      name: 'baseline server',
      args: ['--import', 'tsx', BASELINE_ENTRY],
      env: { PATH: process.env.PATH ?? '', PORT: String(port) },
      cwd: ROOT,
      port,
      startTimeoutMs: START_TIMEOUT_MS,
    });
  } else {
    const dir = mkdtempSync(join(settings.tmpRoot, `switchboard-bench-${name}-`));
    tempDirs.push(dir);
    dbPath = join(dir, 'switchboard.db');
    server = await ServerProcess.start({
      name: 'gateway',
      args: [...settings.gatewayNodeArgs, GATEWAY_ENTRY],
      env: { ...gatewayEnv(port, dbPath, credentials), ...eventsEnv },
      cwd: ROOT,
      port,
      startTimeoutMs: START_TIMEOUT_MS,
    });
  }
  log(`\n== ${name}: server pid ${server.pid ?? '?'} on ${url}`);

  let warmup: LoadResult;
  let measured: LoadResult;
  let peakRssBytes: number | null;
  let serverCpuPct: number | null;
  let clientCpuPct: number;
  let stop: StopOutcome;
  try {
    // Warm-up: JIT, connections, SQLite page cache. Its best second sizes the measured pool.
    feed.prefill(settings.warmupSec * WARMUP_POOL_RATE);
    warmup = await runLoad({ url, durationSec: settings.warmupSec, feed, ledger });
    log(
      `   warm-up ${settings.warmupSec} s: ${fmtRate(warmup.reqPerSec)} req/s (best second ${fmtRate(warmup.peakReqPerSec)}), ` +
        `non-2xx ${warmup.non2xx}, errors ${warmup.errors}`,
    );
    if (warmup.non2xx > 0 || warmup.errors > 0 || warmup.count2xx === 0) {
      // A misconfiguration (a signature the gateway rejects...) shows here; measuring it would be meaningless.
      throw new Error(
        `warm-up failed: ${warmup.count2xx} 2xx, ${warmup.non2xx} non-2xx, ${warmup.errors} errors. ` +
          `First failure: ${ledger.firstFailure ?? 'none recorded'}\n${server.stderrTail()}`,
      );
    }

    const poolSize = Math.min(
      POOL_MAX,
      Math.max(
        POOL_MIN,
        Math.ceil(warmup.peakReqPerSec * settings.durationSec * POOL_HEADROOM) + 4 * CONNECTIONS,
      ),
    );
    const signStart = performance.now();
    feed.prefill(poolSize);
    log(`   pre-signed ${poolSize} requests in ${((performance.now() - signStart) / 1000).toFixed(1)} s`);

    const serverCpuStart = server.cpuSeconds();
    const clientCpuStart = process.cpuUsage();
    const wallStart = performance.now();
    const eventsBefore = sink?.received ?? 0;
    measured = await runLoad({ url, durationSec: settings.durationSec, feed, ledger });
    const wallSec = (performance.now() - wallStart) / 1000;
    if (sink) {
      const delivered = sink.received - eventsBefore;
      log(
        `   events delivered to the app during the measured run: ${delivered} ` +
          `(${fmtRate(delivered / wallSec)}/s; ${measured.count2xx} messages acknowledged)`,
      );
    }
    const serverCpuEnd = server.cpuSeconds();
    const clientCpu = process.cpuUsage(clientCpuStart);
    serverCpuPct =
      serverCpuStart === null || serverCpuEnd === null
        ? null
        : ((serverCpuEnd - serverCpuStart) / wallSec) * 100;
    clientCpuPct = ((clientCpu.user + clientCpu.system) / 1e6 / wallSec) * 100;
    // Read before stopping: VmHWM covers the whole life of the process, warm-up included.
    peakRssBytes = server.peakRssBytes();
  } finally {
    stop = await server.stop(STOP_GRACE_MS);
    if (sink) {
      log(`   events received by the app in all: ${sink.received} (the rest wait in the database)`);
      await sink.close();
    }
  }
  if (!stop.graceful || stop.code !== 0) {
    log(
      `   !! ${name} server did not exit cleanly: code ${stop.code}, signal ${stop.signal}, graceful ${stop.graceful}`,
    );
  }

  const storage = dbPath !== null && name !== 'baseline' ? checkStorage(dbPath, name, ledger) : null;
  const result: ScenarioResult = {
    name,
    warmup,
    measured,
    peakRssBytes,
    serverCpuPct,
    clientCpuPct,
    stop,
    storage,
    total2xx: warmup.count2xx + measured.count2xx,
  };
  printScenario(result, ledger);
  return result;
}

function printScenario(r: ScenarioResult, ledger: Ledger): void {
  const m = r.measured;
  log(
    `   measured ${m.durationSec} s: ${fmtRate(m.reqPerSec)} req/s (mean), p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms, ` +
      `2xx ${m.count2xx}, non-2xx ${m.non2xx}, errors ${m.errors} (timeouts ${m.timeouts}), ` +
      `peak RSS ${fmtMb(r.peakRssBytes)}`,
  );
  log(
    `   CPU during the measured run (100% = one core): server ${fmtPct(r.serverCpuPct)}, ` +
      `load generator ${fmtPct(r.clientCpuPct)}`,
  );
  if (m.signedOnTheFly > 0) {
    log(`   note: the pool ran dry; ${m.signedOnTheFly} requests were signed during the measured run`);
  }
  if (m.non2xx > 0 || m.errors > 0) {
    log(
      `\n   !!!!!!!! ${r.name}: ${m.non2xx} NON-2XX RESPONSES AND ${m.errors} ERRORS IN THE MEASURED RUN !!!!!!!!\n` +
        `   first failure: ${ledger.firstFailure ?? 'none recorded (connection errors only)'}\n`,
    );
  }
  const s = r.storage;
  if (s) {
    log(
      `   database: ${s.rows} messages rows (${s.distinctIds} distinct ids) vs ${r.total2xx} 2xx counted by ` +
        `autocannon (warm-up ${r.warmup.count2xx} + measured ${m.count2xx}); ` +
        `${s.acked} acknowledged ids, ${s.missing} of them missing; ` +
        `${s.storedInFlight} more stored from the ${s.inFlight} requests in flight when autocannon stopped; ` +
        `${s.unexplained} unexplained -> ${s.ok ? 'OK' : 'MISMATCH'}`,
    );
    if (!s.ok)
      log(`\n   !!!!!!!! ${r.name}: THE DATABASE DOES NOT MATCH THE ACKNOWLEDGED REQUESTS !!!!!!!!\n`);
  }
}

/** Why a finished scenario counts as broken, or null. */
function brokenReason(r: ScenarioResult): string | null {
  if (r.measured.non2xx > 0 || r.measured.errors > 0) return 'non-2xx responses or connection errors';
  if (r.storage !== null && r.total2xx !== r.storage.acked) return 'autocannon and the ledger disagree';
  if (r.storage !== null && !r.storage.ok) return 'database does not match the acknowledged requests';
  if (!r.stop.graceful || r.stop.code !== 0) return 'server did not shut down cleanly';
  return null;
}

function printSummary(outcomes: Outcome[], settings: Settings): boolean {
  const results = new Map<ScenarioName, ScenarioResult>();
  for (const o of outcomes) if (o.ok) results.set(o.result.name, o.result);
  const baseline = results.get('baseline');
  const ratio = (r: ScenarioResult | undefined): number | null =>
    r && baseline && baseline.measured.reqPerSec > 0
      ? r.measured.reqPerSec / baseline.measured.reqPerSec
      : null;

  const header = [
    'scenario',
    'req/s',
    'x baseline',
    'p50 ms',
    'p99 ms',
    '2xx',
    'non-2xx',
    'errors',
    'peak RSS',
    'CPU srv/gen',
    'DB rows',
  ];
  const rows: string[][] = outcomes.map((o) => {
    if (!o.ok) return [o.name, 'FAILED', '', '', '', '', '', '', '', '', ''];
    const r = o.result;
    const q = ratio(r);
    return [
      r.name,
      fmtRate(r.measured.reqPerSec),
      q === null ? 'n/a' : q.toFixed(2),
      String(r.measured.p50Ms),
      String(r.measured.p99Ms),
      String(r.measured.count2xx),
      String(r.measured.non2xx),
      String(r.measured.errors),
      fmtMb(r.peakRssBytes),
      `${fmtPct(r.serverCpuPct)}/${fmtPct(r.clientCpuPct)}`,
      r.storage ? `${r.storage.rows}${r.storage.ok ? '' : ' !'}` : '-',
    ];
  });
  log(`\n== Summary (${settings.durationSec} s per measured run, ${CONNECTIONS} connections, ${HOST})`);
  log(table([header, ...rows]));

  const twilio = results.get('twilio');
  const telnyx = results.get('telnyx');
  const goal = (
    label: string,
    value: number | null | undefined,
    limit: number,
    atLeast: boolean,
    format: (v: number) => string,
  ): string[] => {
    if (value === null || value === undefined)
      return ['N/A', label, `${atLeast ? '>=' : '<='} ${format(limit)}`, 'n/a'];
    const met = atLeast ? value >= limit : value <= limit;
    return [met ? 'PASS' : 'MISS', label, `${atLeast ? '>=' : '<='} ${format(limit)}`, format(value)];
  };
  const times = (v: number) => `${v.toFixed(2)}x`;
  const ms = (v: number) => `${v} ms`;
  const mb = (v: number) => `${v.toFixed(1)} MB`;
  const rssMb = (r: ScenarioResult | undefined) => (r?.peakRssBytes == null ? null : r.peakRssBytes / MB);
  log('\n== Goals');
  log(
    table(
      [
        ['', 'goal', 'target', 'measured'],
        goal('Twilio req/s vs baseline', ratio(twilio), GOALS.twilioRatio, true, times),
        goal('Telnyx req/s vs baseline', ratio(telnyx), GOALS.telnyxRatio, true, times),
        goal('Twilio p99 latency', twilio?.measured.p99Ms, GOALS.p99Ms, false, ms),
        goal('Telnyx p99 latency', telnyx?.measured.p99Ms, GOALS.p99Ms, false, ms),
        goal('Twilio peak RSS (VmHWM)', rssMb(twilio), GOALS.rssMb, false, mb),
        goal('Telnyx peak RSS (VmHWM)', rssMb(telnyx), GOALS.rssMb, false, mb),
      ],
      2,
    ),
  );
  // Little's law for a closed loop: every connection waits for its answer before sending the next request.
  log(
    `  (MB = 10^6 bytes. Closed loop: mean latency ~ ${CONNECTIONS} connections / req/s, so p99 <= ${GOALS.p99Ms} ms ` +
      `needs well over ${Math.round(CONNECTIONS / (GOALS.p99Ms / 1000))} req/s here.)`,
  );

  let broken = false;
  for (const o of outcomes) {
    const reason = o.ok ? brokenReason(o.result) : o.error.split('\n')[0];
    if (reason) {
      broken = true;
      log(`!! ${o.ok ? o.result.name : o.name} broke: ${reason}`);
    }
  }
  return broken;
}

/** Columns before `leftColumns` are left-aligned (labels), the rest right-aligned (figures). */
function table(rows: string[][], leftColumns = 1): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r, rowIndex) => {
      const line = r.map((cell, i) =>
        i < leftColumns ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0),
      );
      const text = `  ${line.join('  ')}`;
      return rowIndex === 0 ? `${text}\n  ${widths.map((w) => '-'.repeat(w)).join('  ')}` : text;
    })
    .join('\n');
}

function fmtRate(n: number): string {
  return Math.round(n).toString();
}

function fmtPct(pct: number | null): string {
  return pct === null ? 'n/a' : `${Math.round(pct)}%`;
}

function fmtMb(bytes: number | null): string {
  return bytes === null ? 'n/a' : `${(bytes / MB).toFixed(1)} MB`;
}

function log(line: string): void {
  console.log(line);
}

function cleanup(): void {
  killAllChildren();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  if (settings.scenarios.some((s) => s !== 'baseline') && !existsSync(GATEWAY_ENTRY)) {
    throw new Error(`${GATEWAY_ENTRY} is missing: run \`npm run build\` (npm run bench:ingest does).`);
  }
  if (statfsSync(settings.tmpRoot).type === TMPFS_MAGIC) {
    log(
      `warning: ${settings.tmpRoot} is tmpfs, where fsync costs nothing: set BENCH_TMPDIR to a disk directory.`,
    );
  }

  // Everything is bounded: each phase has its own timeout, and this catches anything they miss.
  const budgetMs =
    settings.scenarios.length * ((settings.warmupSec + settings.durationSec) * 1000 + 120_000) + 30_000;
  setTimeout(() => {
    console.error(`bench: gave up after ${Math.round(budgetMs / 1000)} s; killing the servers.`);
    cleanup();
    process.exit(1);
  }, budgetMs).unref();

  log(
    `Switchboard ingest benchmark: node ${process.version}, ${settings.warmupSec} s warm-up + ` +
      `${settings.durationSec} s measured per scenario, ${CONNECTIONS} connections, no pipelining.`,
  );
  log('(2 cores: autocannon runs in this process and shares the CPU with the server under test.)');

  const credentials = makeCredentials();
  const outcomes: Outcome[] = [];
  for (const name of settings.scenarios) {
    try {
      outcomes.push({ ok: true, result: await runScenario(name, settings, credentials) });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log(`\n!!!!!!!! ${name} FAILED: ${error}`);
      outcomes.push({ ok: false, name, error });
      // A failed scenario may leave its server up; do not let it skew the next one.
      killAllChildren();
    }
  }
  const broken = printSummary(outcomes, settings);
  return broken ? 1 : 0;
}

process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}; stopping the servers.`);
    cleanup();
    process.exit(130);
  });
}

main().then(
  (code) => {
    cleanup();
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    cleanup();
    process.exitCode = 1;
  },
);
