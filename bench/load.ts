import autocannon from 'autocannon';
import type { RequestFeed } from './requests.js';

/** Concurrent keep-alive connections, one request in flight on each (no pipelining: carriers do not pipeline). */
export const CONNECTIONS = 50;

/** Per-request timeout; far above any sane latency, so a timeout means something is stuck. */
const REQUEST_TIMEOUT_SEC = 10;

/** How long past its duration a run may take before it is abandoned as hung. */
const RUN_GRACE_MS = 30_000;

/**
 * What the client knows about the fate of each request sent to one server, across all runs against it. With it
 * the database can be checked exactly: every acknowledged id must be stored, and any other stored id must be one
 * that was still in flight when autocannon stopped (it closes its sockets at the deadline without waiting).
 */
export class Ledger {
  /** Ids answered with a 2xx. */
  readonly acked = new Set<string>();
  /** Ids sent and never answered: after a run, the requests in flight when autocannon stopped. */
  readonly pending = new Set<string>();
  /** The first non-2xx answer, to say why a run failed. */
  firstFailure: string | null = null;
}

export interface LoadResult {
  /** Mean of autocannon's per-second samples. */
  reqPerSec: number;
  /** The best one-second sample: closer to the steady-state rate than the mean of a short, cold warm-up. */
  peakReqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  count2xx: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  durationSec: number;
  /** Requests that had to be signed during the run (pool exhausted or stale); ideally 0. */
  signedOnTheFly: number;
}

/**
 * One autocannon run in this process. Each request is taken from the feed in setupRequest, so every request is a
 * distinct webhook with a valid signature; onResponse records its outcome in the ledger. Both hooks run for the
 * baseline too, keeping the client's work per request identical in every scenario.
 */
export function runLoad(options: {
  url: string;
  durationSec: number;
  feed: RequestFeed;
  ledger: Ledger;
}): Promise<LoadResult> {
  const { url, durationSec, feed, ledger } = options;
  // autocannon hands both hooks the connection's context object, which it renews per request when there is
  // one request template; keying the id by it ties a response to the request it answers (no pipelining).
  const idOf = new WeakMap<object, string>();

  return new Promise<LoadResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        pipelining: 1,
        duration: durationSec,
        timeout: REQUEST_TIMEOUT_SEC,
        method: 'POST',
        requests: [
          {
            setupRequest: (request, context) => {
              const signed = feed.take();
              idOf.set(context, signed.id);
              ledger.pending.add(signed.id);
              // A fresh headers object: autocannon writes Content-Length into it, and pooled requests are shared.
              return { ...request, method: 'POST', headers: { ...signed.headers }, body: signed.body };
            },
            onResponse: (status, body, context) => {
              const id = idOf.get(context);
              if (id === undefined) return;
              ledger.pending.delete(id);
              if (status >= 200 && status < 300) ledger.acked.add(id);
              else ledger.firstFailure ??= `HTTP ${status}: ${body.slice(0, 500)}`;
            },
          },
        ],
      },
      (err: unknown, result: autocannon.Result) => {
        clearTimeout(guard);
        if (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        resolve({
          reqPerSec: result.requests.mean,
          peakReqPerSec: result.requests.max,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          count2xx: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          durationSec: result.duration,
          signedOnTheFly: feed.signedOnTheFly,
        });
      },
    );
    const guard = setTimeout(
      () => {
        instance.stop();
        reject(
          new Error(`load run against ${url} did not finish within ${durationSec} s + ${RUN_GRACE_MS} ms`),
        );
      },
      durationSec * 1000 + RUN_GRACE_MS,
    );
  });
}
