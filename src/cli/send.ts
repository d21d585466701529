import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminal, type Message } from '../core/message.js';
import { checkCanRead, sendCsv } from './bulk-send.js';
import { ApiClient, CLIENT_OPTIONS, describeError } from './client.js';
import { CliError, parse, positiveInteger, type Command } from './command.js';
import { printable } from './output.js';

const USAGE = `Usage:
  switchboard send --to NUMBER [--body TEXT] [--media URL]... [--from NUMBER] [--provider twilio|telnyx] [--wait]
  switchboard send --csv FILE [--campaign NAME] [--results FILE] [--batch-size 100] [--no-wait]
                   [--wait-timeout 300]

One message: prints its id, provider and status; --wait follows it to a final status.

--csv: one message per row. The header names the columns: to (required), body, from, provider, media_urls
(space-separated). Rows go in batches (POST /v1/messages/batch); a 429 from the gateway's per-key rate
limit is waited out (Retry-After) and the batch sent again, and carriers' own rates are kept by the gateway's
send queues. Each row carries an idempotency key: by default the file's digest and the row number, so running
the same file again sends nothing twice (an edited file is a new send); with --campaign NAME, the name and the
row's content, so a corrected file sent again under the same name sends only the rows not sent before. Before
sending, the results file must be writable and (unless --no-wait) the key must be able to read. A progress bar shows rows queued, then final statuses; at the
end a summary, and a CSV of results (default FILE.results.csv): row, to, message_id, provider, status,
error_code, error_message, sent_earlier. Exit code 1 if any row was refused or failed.

Talks to a running gateway with a key that has the send scope (and read, to follow statuses):
--url URL (SWITCHBOARD_URL), --key KEY (SWITCHBOARD_API_KEY).`;

export const send: Command = async (argv) => {
  const args = parse(
    argv,
    {
      ...CLIENT_OPTIONS,
      to: { type: 'string' },
      body: { type: 'string' },
      media: { type: 'string', multiple: true },
      from: { type: 'string' },
      provider: { type: 'string' },
      wait: { type: 'boolean' },
      csv: { type: 'string' },
      results: { type: 'string' },
      'batch-size': { type: 'string' },
      'no-wait': { type: 'boolean' },
      'wait-timeout': { type: 'string' },
      campaign: { type: 'string' },
    },
    USAGE,
  );
  if (args === null) return 0;
  const v = args.values;
  const client = new ApiClient({ url: v.url, key: v.key });
  // Every option is checked before anything is sent: a usage error after a send would invite sending it again.
  const waitTimeoutMs =
    positiveInteger(v['wait-timeout'], 'wait-timeout', v.csv !== undefined ? 300 : 60) * 1000;
  if (v.campaign !== undefined && (v.csv === undefined || v.campaign.trim() === '')) {
    throw new CliError('--campaign names a CSV send: use it with --csv, and give it a name.', 2);
  }
  if (v.csv !== undefined) {
    for (const single of ['to', 'body', 'media', 'from', 'provider'] as const) {
      if (v[single] !== undefined)
        throw new CliError(`--${single} is a column of the CSV file with --csv.`, 2);
    }
    return sendCsv(client, v.csv, {
      results: v.results ?? `${v.csv.replace(/\.csv$/i, '')}.results.csv`,
      batchSize: Math.min(1000, positiveInteger(v['batch-size'], 'batch-size', 100)),
      wait: v['no-wait'] !== true,
      waitTimeoutMs,
      campaign: v.campaign?.trim() ?? null,
    });
  }
  if (v.to === undefined) throw new CliError(`send needs --to (or --csv FILE).\n\n${USAGE}`, 2);
  const request = {
    to: v.to,
    ...(v.body !== undefined && { body: v.body }),
    ...(v.media !== undefined && { mediaUrls: v.media }),
    ...(v.from !== undefined && { from: v.from }),
    ...(v.provider !== undefined && { provider: v.provider }),
  };
  // Following needs the read scope: known before sending, not after (a failed-looking send invites a second one).
  if (v.wait) await checkCanRead(client);
  const response = await client.request<Message>('POST', '/v1/messages', request);
  if (response.status !== 202) throw new CliError(describeError(response));
  let message = response.body;
  process.stdout.write(`${message.id}  ${message.provider}  ${message.status}\n`);
  if (!v.wait) return 0;
  const deadline = Date.now() + waitTimeoutMs;
  while (!isTerminal(message.status) && Date.now() < deadline) {
    await sleep(500);
    const next = await client.expect<Message>('GET', `/v1/messages/${message.id}`);
    if (next.status !== message.status)
      process.stdout.write(`${message.id}  ${next.provider}  ${next.status}\n`);
    message = next;
  }
  if (message.errorCode !== null)
    process.stdout.write(`error ${printable(message.errorCode)}: ${printable(message.errorMessage ?? '')}\n`);
  return message.status === 'failed' || message.status === 'undelivered' ? 1 : 0;
};
