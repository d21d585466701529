import { MAX_RETENTION_DAYS } from '../config.js';
import { DAY_MS, Retention, type RetentionReport } from '../core/retention.js';
import { CliError, parse, type Command } from './command.js';
import { withGatewayStore } from './database.js';
import { formatTable } from './output.js';

const USAGE = `Usage: switchboard db prune --older-than DURATION [--redact-bodies-older-than DURATION] [--dry-run]

Does by hand what RETENTION_DAYS and REDACT_BODIES_AFTER_DAYS do in a running gateway, on its database
(DATABASE_URL, which must exist):

  --older-than D                deletes messages created more than D ago, with their status history, send
                                attempts, idempotency keys and app events (with deliveries and attempts), and
                                the webhook signatures received before then (replay protection)
  --redact-bodies-older-than D  empties the body and media of messages created more than D ago (also in their
                                stored events), marking them redacted, and deletes their idempotency keys (whose
                                request hashes cover the body); D shorter than --older-than
  --dry-run                     counts what would be done, and changes nothing

Never deleted or redacted: a message still waiting in the outbox, an event still pending delivery to an app (and
its message), a message with a status report or event newer than D (a late receipt: it goes once that is old
too). Opt-outs are never deleted. D is a whole number of days or hours: 90d, 12h.
Safe while the gateway runs: the work goes in small transactions with pauses between them.`;

const UNITS = { d: DAY_MS, h: 3_600_000 } as const;

/** `90d`, `12h`: milliseconds; anything else is a usage error naming the option. */
export function parseDuration(raw: string, option: string): number {
  const match = /^(\d+)([dh])$/.exec(raw.trim());
  const hint = `--${option} takes a whole number of days or hours, such as 90d or 12h`;
  if (!match) throw new CliError(`${hint}; got "${raw}".`, 2);
  const ms = Number(match[1]) * UNITS[match[2] as keyof typeof UNITS];
  if (ms < UNITS.h) throw new CliError(`${hint}, at least 1h; got "${raw}".`, 2);
  if (ms > MAX_RETENTION_DAYS * DAY_MS)
    throw new CliError(`${hint}, at most ${MAX_RETENTION_DAYS}d; got "${raw}".`, 2);
  return ms;
}

export const db: Command = async (argv) => {
  const args = parse(
    argv,
    {
      'older-than': { type: 'string' },
      'redact-bodies-older-than': { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
    USAGE,
    true,
  );
  if (args === null) return 0;
  const [action, ...rest] = args.positionals;
  if (action !== 'prune') throw new CliError(`db needs an action: prune.\n\n${USAGE}`, 2);
  if (rest.length > 0) throw new CliError(`db prune takes no argument ("${rest[0]}").\n\n${USAGE}`, 2);
  const { values } = args;
  const olderThan = values['older-than'];
  const redactOlderThan = values['redact-bodies-older-than'];
  if (olderThan === undefined && redactOlderThan === undefined) {
    throw new CliError(`db prune needs --older-than (or --redact-bodies-older-than).\n\n${USAGE}`, 2);
  }
  const deleteAfterMs = olderThan === undefined ? null : parseDuration(olderThan, 'older-than');
  const redactAfterMs =
    redactOlderThan === undefined ? null : parseDuration(redactOlderThan, 'redact-bodies-older-than');
  if (deleteAfterMs !== null && redactAfterMs !== null && redactAfterMs >= deleteAfterMs) {
    throw new CliError(
      `--redact-bodies-older-than (${redactOlderThan}) must be shorter than --older-than (${olderThan}): those ` +
        'messages are deleted anyway.',
      2,
    );
  }
  const dryRun = values['dry-run'] === true;
  const now = Date.now();

  const report = await withGatewayStore('there is nothing to prune.', async (store, databaseUrl) => {
    const retention = new Retention({
      store,
      policy: { deleteAfterMs, redactAfterMs },
      // The run reports itself below; nothing is logged.
      log: { debug() {}, info() {}, warn() {}, error() {} },
      now: () => now,
    });
    // Ctrl-C stops after the current step: what was done so far is committed and reported.
    const interrupt = () => void retention.stop();
    process.once('SIGINT', interrupt);
    process.stderr.write(`${dryRun ? 'Counting' : 'Pruning'} ${databaseUrl} ...\n`);
    try {
      return await retention.run({ dryRun });
    } finally {
      process.off('SIGINT', interrupt);
    }
  });
  process.stdout.write(summary(report, { deleteAfterMs, redactAfterMs, now, dryRun }));
  if (!report.complete) {
    process.stderr.write('Interrupted: the counts above are what was done before the stop.\n');
    return 130;
  }
  return 0;
};

function summary(
  report: RetentionReport,
  run: { deleteAfterMs: number | null; redactAfterMs: number | null; now: number; dryRun: boolean },
): string {
  const lines: string[] = [];
  const before = (ms: number) => new Date(run.now - ms).toISOString();
  if (run.deleteAfterMs !== null) {
    const d = report.deleted;
    lines.push(
      `${run.dryRun ? 'Would delete' : 'Deleted'} what was created before ${before(run.deleteAfterMs)}:`,
      formatTable(
        ['', 'ROWS'],
        [
          ['messages', d.messages],
          ['status history entries', d.history],
          ['send attempts', d.sendAttempts],
          ['idempotency keys', d.idempotencyKeys],
          ['events', d.events],
          ['event deliveries', d.deliveries],
          ['delivery attempts', d.deliveryAttempts],
          ['webhook signatures (replay protection)', d.replayKeys],
        ].map(([name, n]) => [`  ${name}`, String(n)]),
      ),
    );
  }
  if (run.redactAfterMs !== null) {
    lines.push(
      `${run.dryRun ? 'Would redact' : 'Redacted'} the bodies of messages created before ${before(run.redactAfterMs)}: ` +
        `${report.redacted.messages} messages, ${report.redacted.events} event payloads, ` +
        `${report.redacted.idempotencyKeys} idempotency keys deleted.`,
    );
  }
  const { prune, redact } = report.held;
  if (prune + redact > 0) {
    const left = [
      ...(prune > 0 ? [`${prune} not deleted`] : []),
      ...(redact > 0 ? [`${redact} not redacted`] : []),
    ];
    lines.push(
      `Left alone: old messages still waiting to go out or to reach an app, or with a newer event (${left.join(', ')}).`,
    );
  }
  lines.push(
    `${report.steps} transactions, the longest ${Math.round(report.longestStepMs)} ms.` +
      (run.dryRun ? ' Dry run: nothing was changed.' : ''),
  );
  return `${lines.join('\n')}\n`;
}
