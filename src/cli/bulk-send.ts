import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { isTerminal, type Message, type Status } from '../core/message.js';
import { describeError, type ApiClient } from './client.js';
import { CliError } from './command.js';
import { printable } from './output.js';
import { Progress } from './progress.js';

const COLUMNS = ['to', 'body', 'from', 'provider', 'media_urls'] as const;
type Column = (typeof COLUMNS)[number];
/** Network errors and 5xx answers: the batch is sent again (its idempotency keys make that safe). */
const MAX_TRANSIENT_RETRIES = 5;
const POLL_MS = 1_000;
const RESULTS_EVERY_MS = 2_000;

export interface CsvSendOptions {
  results: string;
  batchSize: number;
  /** Follow accepted messages to a final status before writing the results. */
  wait: boolean;
  waitTimeoutMs: number;
  /** `--campaign`: idempotency keys from the rows' content under this name (see assignKeys). */
  campaign: string | null;
}

/** One CSV row and what became of it. */
interface Row {
  /** 1-based data row (the header is row 0). */
  row: number;
  fields: Partial<Record<Column, string>>;
  idempotencyKey: string;
  messageId: string | null;
  /** The gateway's time for the message (ISO 8601), once accepted. */
  createdAt: string | null;
  /** Sent by an earlier run (same idempotency key): not sent again. */
  replayed: boolean;
  provider: string;
  status: Status | 'refused' | '';
  errorCode: string;
  errorMessage: string;
}

interface BatchItemResult {
  index: number;
  status: number;
  message?: Message;
  /** The idempotency key had been used: this is the message sent earlier, nothing was sent now. */
  replayed?: boolean;
  error?: { code: string; message: string };
}

/** `switchboard send --csv`: see the command's usage in send.ts. */
export async function sendCsv(client: ApiClient, file: string, options: CsvSendOptions): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}`);
  }
  const rows = readRows(text, file);
  assignKeys(rows, text, options.campaign);
  // Before anything is sent: the results can be written (without truncating a previous run's), and statuses can
  // be followed.
  if (resolve(options.results) === resolve(file)) {
    throw new CliError('--results names the CSV file itself; choose another file.', 2);
  }
  try {
    closeSync(openSync(options.results, 'a'));
  } catch (err) {
    throw new CliError(`Cannot write the results to ${options.results}: ${(err as Error).message}`);
  }
  if (options.wait) await checkCanRead(client);

  // Stopped by Ctrl-C (likely while following statuses): what was sent is on record before the process ends.
  const onSignal = (signal: NodeJS.Signals) => {
    try {
      writeResults(options.results, rows);
      process.stderr.write(`\n${signal}: stopped; what was sent is in ${options.results}.\n`);
    } finally {
      process.exit(130);
    }
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let failure: unknown = null;
  let lastWrite = Date.now();
  try {
    const submitting = new Progress('queued ', rows.length);
    let submitted = 0;
    client.onRateLimited = (waitMs) =>
      submitting.note(submitted, `rate limited, waiting ${Math.ceil(waitMs / 1000)} s`);
    for (let i = 0; i < rows.length; i += options.batchSize) {
      const batch = rows.slice(i, i + options.batchSize);
      const results = await submitBatch(client, batch, (note) => submitting.note(submitted, note));
      results.forEach((result) => {
        const row = batch[result.index] as Row;
        if (result.status === 202 && result.message) {
          row.messageId = result.message.id;
          row.provider = result.message.provider;
          row.status = result.message.status;
          row.createdAt = result.message.createdAt;
          row.replayed = result.replayed === true;
        } else {
          row.status = 'refused';
          row.errorCode = result.error?.code ?? `http_${result.status}`;
          row.errorMessage = result.error?.message ?? '';
        }
      });
      submitted += batch.length;
      submitting.update(submitted, tally(rows));
      // Kept current while sending (a crash leaves a record), but not rewritten for every batch of a large file.
      if (Date.now() - lastWrite >= RESULTS_EVERY_MS) {
        writeResults(options.results, rows);
        lastWrite = Date.now();
      }
    }
    submitting.done();

    if (options.wait) {
      try {
        await follow(client, rows, options.waitTimeoutMs);
      } catch (err) {
        process.stderr.write(
          `Following statuses stopped (${(err as Error).message}); the statuses known so far are in the results.\n`,
        );
      }
    }
  } catch (err) {
    failure = err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Whatever happened, what was sent is on record; a failure to write it must not hide why the run stopped.
    try {
      writeResults(options.results, rows);
    } catch (err) {
      if (failure === null) failure = err;
      else process.stderr.write(`${(err as Error).message}\n`);
    }
  }
  if (failure !== null) throw failure;
  process.stdout.write(summary(rows, file, options.results));
  const bad = rows.some((r) => r.status === 'refused' || r.status === 'failed' || r.status === 'undelivered');
  return bad ? 1 : 0;
}

/**
 * Each row's idempotency key. Without a campaign: the file's digest and the row number, so the same file sent
 * again sends nothing twice (an edited file is a new send). With `--campaign NAME`: the name, the row's content
 * and its occurrence among identical rows, so a file corrected and sent again under the same name sends only the
 * rows not sent before.
 */
function assignKeys(rows: Row[], text: string, campaign: string | null): void {
  const short = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 16);
  if (campaign === null) {
    const digest = short(text);
    for (const row of rows) row.idempotencyKey = `csv-${digest}-${row.row}`;
    return;
  }
  const name = short(campaign);
  const seen = new Map<string, number>();
  for (const row of rows) {
    const content = short(JSON.stringify(COLUMNS.map((c) => row.fields[c] ?? '')));
    const n = seen.get(content) ?? 0;
    seen.set(content, n + 1);
    row.idempotencyKey = `csv-${name}-${content}-${n}`;
  }
}

function writeResults(path: string, rows: Row[]): void {
  try {
    writeFileSync(
      path,
      stringify(
        rows.map((r) => [
          r.row,
          r.fields.to,
          r.messageId ?? '',
          r.provider,
          r.status,
          r.errorCode,
          r.errorMessage,
          r.replayed ? 'true' : '',
        ]),
        {
          header: true,
          // A cell starting with = + - @, a tab or a carriage return is a formula to a spreadsheet (a number
          // written "=HYPERLINK(...)" in the CSV, a carrier's error text): written with a leading ' instead.
          escape_formulas: true,
          columns: [
            'row',
            'to',
            'message_id',
            'provider',
            'status',
            'error_code',
            'error_message',
            'sent_earlier',
          ],
        },
      ),
    );
  } catch (err) {
    throw new CliError(`Cannot write the results to ${path}: ${(err as Error).message}`);
  }
}

/** Following statuses reads messages: a key without the read scope is told before anything is sent. */
export async function checkCanRead(client: ApiClient): Promise<void> {
  const response = await client.request('GET', '/v1/messages?limit=1');
  if (response.status === 200) return;
  if (response.status === 403) {
    throw new CliError(
      'This API key cannot read messages (the read scope), so statuses cannot be followed: use a key with ' +
        'send and read, or leave out waiting (--no-wait with --csv). Nothing was sent.',
      2,
    );
  }
  throw new CliError(`${describeError(response)}. Nothing was sent.`);
}

function readRows(text: string, file: string): Row[] {
  let records: Record<string, string>[];
  try {
    records = parseCsv(text, {
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      bom: true,
      skip_empty_lines: true,
      trim: true,
    });
  } catch (err) {
    throw new CliError(`${file} is not valid CSV: ${printable((err as Error).message)}`);
  }
  if (records.length === 0) throw new CliError(`${file} has no rows under its header.`);
  const header = Object.keys(records[0] as object);
  const unknown = header.filter((h) => !(COLUMNS as readonly string[]).includes(h));
  if (unknown.length > 0 || !header.includes('to')) {
    throw new CliError(
      `${file}: the header must name a "to" column and may name ${COLUMNS.slice(1).join(', ')}` +
        (unknown.length > 0 ? `; unknown: ${printable(unknown.join(', '))}.` : '.'),
    );
  }
  return records.map((record, i) => ({
    row: i + 1,
    fields: record,
    idempotencyKey: '',
    messageId: null,
    createdAt: null,
    replayed: false,
    provider: '',
    status: '',
    errorCode: '',
    errorMessage: '',
  }));
}

function toRequest(row: Row) {
  const f = row.fields;
  const media = f.media_urls?.split(/\s+/).filter((u) => u !== '');
  return {
    to: f.to ?? '',
    ...(f.body && { body: f.body }),
    ...(f.from && { from: f.from }),
    ...(f.provider && { provider: f.provider }),
    ...(media && media.length > 0 && { mediaUrls: media }),
    idempotencyKey: row.idempotencyKey,
  };
}

/** Sends one batch until the gateway answers it: a 429 is waited out, a network error or 5xx retried. */
async function submitBatch(
  client: ApiClient,
  batch: Row[],
  note: (detail: string) => void,
): Promise<BatchItemResult[]> {
  const body = { messages: batch.map((row) => toRequest(row)) };
  let transient = 0;
  for (;;) {
    let response;
    try {
      response = await client.request<{ data: BatchItemResult[] }>('POST', '/v1/messages/batch', body);
    } catch (err) {
      if (++transient > MAX_TRANSIENT_RETRIES) throw err;
      note(`gateway unreachable, retrying`);
      await sleep(1_000 * transient);
      continue;
    }
    if (response.status === 202 || response.status === 207) {
      // Spend what is left of the key's rate limit, then wait for its window rather than collect 429s.
      if (response.headers.get('x-ratelimit-remaining') === '0') {
        const resetSeconds = Number(response.headers.get('x-ratelimit-reset'));
        if (Number.isFinite(resetSeconds) && resetSeconds > 0) {
          note(`rate limit reached, waiting ${resetSeconds} s`);
          await sleep(resetSeconds * 1000);
        }
      }
      return response.body.data;
    }
    if (response.status >= 500 && ++transient <= MAX_TRANSIENT_RETRIES) {
      note(`gateway answered ${response.status}, retrying`);
      await sleep(1_000 * transient);
      continue;
    }
    // 401, 403, 400 for the whole batch: nothing in it will go, and the next batch would fare the same.
    throw new CliError(
      `The gateway refused the batch starting at row ${batch[0]?.row}: ${describeError(response)}`,
    );
  }
}

/** Polls the gateway's message list until every accepted row has a final status, or the time is up. */
async function follow(client: ApiClient, rows: Row[], timeoutMs: number): Promise<void> {
  const byId = new Map(rows.filter((r) => r.messageId !== null).map((r) => [r.messageId as string, r]));
  if (byId.size === 0) return;
  const openRows = () => [...byId.values()].filter((r) => !isTerminal(r.status as Status));
  const open = () => openRows().length;
  const progress = new Progress('final  ', byId.size);
  client.onRateLimited = (waitMs) =>
    progress.note(byId.size - open(), `rate limited, waiting ${Math.ceil(waitMs / 1000)} s`);
  const deadline = Date.now() + timeoutMs;
  progress.update(byId.size - open(), tally(rows));
  while (open() > 0 && Date.now() < deadline) {
    await sleep(POLL_MS);
    // The gateway's own times (its ids are time-ordered; this machine's clock may differ), back to the oldest
    // message still open (one an earlier run sent may be old); newest first, so paging stops once all were seen.
    const waiting = new Set(openRows().map((r) => r.messageId as string));
    const since = openRows().reduce(
      (min, r) => ((r.createdAt as string) < min ? (r.createdAt as string) : min),
      '9999',
    );
    let cursor: string | null = null;
    while (waiting.size > 0 && Date.now() < deadline) {
      const query = new URLSearchParams({ direction: 'outbound', since, limit: '200' });
      if (cursor !== null) query.set('cursor', cursor);
      const response = await client.request<{ data: Message[]; nextCursor: string | null }>(
        'GET',
        `/v1/messages?${query}`,
      );
      if (response.status !== 200)
        throw new CliError(`Following statuses failed: ${describeError(response)}`);
      for (const message of response.body.data) {
        const row = byId.get(message.id);
        if (row === undefined) continue;
        waiting.delete(message.id);
        row.status = message.status;
        row.provider = message.provider;
        row.errorCode = message.errorCode ?? '';
        row.errorMessage = message.errorMessage ?? '';
      }
      cursor = response.body.nextCursor;
      if (cursor === null) break;
    }
    progress.update(byId.size - open(), tally(rows));
  }
  progress.done();
  if (open() > 0) {
    process.stderr.write(
      `${open()} message(s) had no final status after ${timeoutMs / 1000} s; their status so far is in the results.\n`,
    );
  }
}

/** `delivered 10, sent 3, refused 1` */
function tally(rows: Row[]): string {
  const counts = new Map<string, number>();
  for (const r of rows) if (r.status !== '') counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${status} ${n}`).join(', ');
}

function summary(rows: Row[], file: string, results: string): string {
  const refused = rows.filter((r) => r.status === 'refused');
  const failed = rows.filter((r) => r.status === 'failed' || r.status === 'undelivered');
  const byCode = (list: Row[]) => {
    const codes = new Map<string, number>();
    for (const r of list) codes.set(r.errorCode || 'unknown', (codes.get(r.errorCode || 'unknown') ?? 0) + 1);
    return [...codes].map(([code, n]) => `${printable(code)} x${n}`).join(', ');
  };
  const earlier = rows.filter((r) => r.replayed).length;
  const lines = [
    `${rows.length} row(s) from ${file}: ${rows.length - refused.length} accepted, ${refused.length} refused.`,
    ...(earlier > 0
      ? [`${earlier} of them had been sent earlier (same idempotency key) and were not sent again.`]
      : []),
    `Statuses: ${tally(rows)}.`,
    ...(refused.length > 0 ? [`Refused: ${byCode(refused)}.`] : []),
    ...(failed.length > 0 ? [`Failed: ${byCode(failed)}.`] : []),
    `Results: ${results}`,
  ];
  return `${lines.join('\n')}\n`;
}
