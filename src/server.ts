import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { ConfigError } from './core/errors.js';
import { shutdownDeadlineMs } from './shutdown.js';

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

  // One budget for the whole shutdown: the app's steps share it (app.ts) and end before it; only a step that
  // overruns it (a store that cannot close) makes the exit code 1.
  const deadlineMs = shutdownDeadlineMs(config.computeTimeoutMs);
  let app;
  try {
    app = await buildApp(config, { shutdownMs: deadlineMs });
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
    const timer = setTimeout(() => {
      app.log.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, deadlineMs);
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
