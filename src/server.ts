import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { ConfigError } from './core/errors.js';

/**
 * How long in-flight requests and background processing get to finish on SIGTERM before the process exits: at
 * least 10 s, and always longer than the compute deadline, so a request waiting for the app is not cut off.
 */
const MIN_SHUTDOWN_DEADLINE_MS = 10_000;
const SHUTDOWN_MARGIN_MS = 2_000;

/**
 * Runs the gateway until SIGTERM/SIGINT: `npm start`, `switchboard serve`. A bad configuration or a start that
 * fails prints one line that says why and exits 1.
 */
export async function serve(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }

  let app;
  try {
    app = await buildApp(config);
  } catch (err) {
    // An operator's problem (database path, permissions): one line that says what, not a stack trace.
    console.error(`Switchboard could not start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(
      () => {
        app.log.error('shutdown deadline passed; exiting');
        process.exit(1);
      },
      Math.max(MIN_SHUTDOWN_DEADLINE_MS, config.computeTimeoutMs + SHUTDOWN_MARGIN_MS),
    );
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    console.error(`Switchboard could not start: ${err instanceof Error ? err.message : String(err)}`);
    await app.close();
    process.exit(1);
  }
}
