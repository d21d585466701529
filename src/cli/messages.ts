import type { Message, MessageWithEvents } from '../core/message.js';
import { ApiClient, CLIENT_OPTIONS } from './client.js';
import { CliError, parse, positiveInteger, type Command } from './command.js';
import { formatTable, printable, printableJson } from './output.js';

const USAGE = `Usage:
  switchboard messages list [--direction inbound|outbound] [--status S] [--provider twilio|telnyx]
                            [--from NUMBER] [--to NUMBER] [--since ISO-TIME] [--limit 20] [--json]
  switchboard messages show ID [--json]

Reads from a running gateway (GET /v1/messages) with a key that has the read scope.
Options for every command that talks to the gateway: --url URL, --key KEY.`;

const FILTERS = ['direction', 'status', 'provider', 'from', 'to', 'since'] as const;

export const messages: Command = async (argv) => {
  const args = parse(
    argv,
    {
      ...CLIENT_OPTIONS,
      direction: { type: 'string' },
      status: { type: 'string' },
      provider: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
    true,
  );
  if (args === null) return 0;
  const { values, positionals } = args;
  const [action, ...rest] = positionals;
  const client = new ApiClient({
    url: values.url as string | undefined,
    key: values.key as string | undefined,
  });
  const json = values.json === true;

  if (action === 'list') {
    if (rest.length > 0) throw new CliError(`messages list takes no argument ("${rest[0]}").`, 2);
    const query = new URLSearchParams();
    for (const f of FILTERS) {
      const value = values[f];
      if (typeof value === 'string') query.set(f, value);
    }
    query.set('limit', String(positiveInteger(values.limit, 'limit', 20)));
    const page = await client.expect<{ data: Message[]; nextCursor: string | null }>(
      'GET',
      `/v1/messages?${query}`,
    );
    if (json) {
      process.stdout.write(`${printableJson(page)}\n`);
      return 0;
    }
    if (page.data.length === 0) {
      process.stdout.write('No messages.\n');
      return 0;
    }
    const rows = page.data.map((m) => [
      m.id,
      m.createdAt,
      m.direction === 'inbound' ? 'in' : 'out',
      m.provider,
      printable(m.from),
      printable(m.to),
      m.status,
      oneLine(m.body, 40),
    ]);
    process.stdout.write(
      `${formatTable(['ID', 'CREATED', 'DIR', 'PROVIDER', 'FROM', 'TO', 'STATUS', 'BODY'], rows)}\n`,
    );
    if (page.nextCursor !== null)
      process.stdout.write(`(more: narrow with --since or filters, or raise --limit)\n`);
    return 0;
  }
  if (action === 'show') {
    const [id, ...extra] = rest;
    if (id === undefined || extra.length > 0) throw new CliError('messages show takes one message id.', 2);
    const message = await client.expect<MessageWithEvents>('GET', `/v1/messages/${encodeURIComponent(id)}`);
    if (json) {
      process.stdout.write(`${printableJson(message)}\n`);
      return 0;
    }
    process.stdout.write(showMessage(message));
    return 0;
  }
  throw new CliError(`messages needs an action: list or show.\n\n${USAGE}`, 2);
};

function showMessage(m: MessageWithEvents): string {
  const lines = [
    `${m.id}  ${m.direction} via ${m.provider}  ${m.status}`,
    `from ${printable(m.from)} to ${printable(m.to)}  (${m.channel}${m.segments !== null ? `, ${m.segments} segment(s)` : ''})`,
    `created ${m.createdAt}, updated ${m.updatedAt}`,
    ...(m.errorCode !== null ? [`error ${printable(m.errorCode)}: ${printable(m.errorMessage ?? '')}`] : []),
    '',
    printable(m.body, true),
    ...m.media.map((media) => `[media] ${printable(media.url)}`),
    '',
    'Status history:',
    ...m.events.map(
      (e) =>
        `  ${e.occurredAt}  ${e.status ?? '(unknown)'}  (${e.provider}: ${printable(e.providerStatus)})` +
        (e.errorCode !== null ? `  error ${printable(e.errorCode)}` : '') +
        // The carrier's own coarse time, as it wrote it (Twilio's RawDlrDoneDate: YYMMDDhhmm, no time zone).
        (e.providerTime ? `  carrier time ${printable(e.providerTime)}` : ''),
    ),
  ];
  if (m.attempts.length > 0) {
    lines.push(
      'Send attempts:',
      ...m.attempts.map(
        (a) =>
          `  ${a.startedAt}  ${a.provider}  ${a.errorClass === null ? 'accepted' : `${a.errorClass} ${printable(a.errorCode ?? '')}`}` +
          `  ${a.durationMs} ms`,
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** At most `max` characters of the text (by code point), then escaped: an escape is never cut in half. */
function oneLine(text: string, max: number): string {
  const chars = [...text.replace(/\s+/g, ' ')];
  return printable(chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join(''));
}
