import { newApiKey, SCOPES, type ApiKeyRecord, type Scope } from '../core/api-keys.js';
import type { SqliteStore } from '../db/sqlite/sqlite.js';
import { CliError, parse, positiveInteger, type Command } from './command.js';
import { withGatewayStore } from './database.js';
import { formatTable, printable } from './output.js';

const USAGE = `Usage:
  switchboard keys create --name NAME --scopes send,read[,admin] [--rate-limit N]
  switchboard keys list
  switchboard keys revoke ID

API keys live in the gateway's database (DATABASE_URL), which keeps only their SHA-256: a new key is printed
once, at creation. Scopes: send (send messages), read (messages, events, endpoints, metrics, the dashboard),
admin (everything, including redelivery, replay and enabling endpoints). --rate-limit: requests per minute for
this key (default: the server's API_RATE_LIMIT_PER_MINUTE). A running gateway picks up a new key at once and
stops accepting a revoked one within 2 seconds.`;

export const keys: Command = async (argv) => {
  const args = parse(
    argv,
    { name: { type: 'string' }, scopes: { type: 'string' }, 'rate-limit': { type: 'string' } },
    USAGE,
    true,
  );
  if (args === null) return 0;
  const [action, ...rest] = args.positionals;
  const { values } = args;
  if (action === 'create') {
    if (rest.length > 0) throw new CliError(`keys create takes no argument ("${rest[0]}").\n\n${USAGE}`, 2);
    const name = values.name?.trim();
    if (!name) throw new CliError(`keys create needs --name (who or what the key is for).\n\n${USAGE}`, 2);
    if (name.length > 100) throw new CliError('--name is longer than 100 characters.', 2);
    const scopes = parseScopes(values.scopes);
    const rateLimit =
      values['rate-limit'] === undefined ? null : positiveInteger(values['rate-limit'], 'rate-limit', 0);
    const { key, record } = newApiKey(name, scopes, rateLimit, Date.now());
    await withStore((store) => store.createApiKey(record));
    process.stdout.write(
      `Created API key ${record.id} "${name}" with scopes ${scopes.join(', ')}.\n` +
        `Keep it now; it is not shown again:\n\n${key}\n`,
    );
    return 0;
  }
  if (action === 'list') {
    const records = await withStore((store) => store.listApiKeys());
    if (records.length === 0) {
      process.stdout.write('No API keys in the database. Create one with: switchboard keys create\n');
      return 0;
    }
    process.stdout.write(`${table(records)}\n`);
    return 0;
  }
  if (action === 'revoke') {
    const [id, ...extra] = rest;
    if (id === undefined || extra.length > 0)
      throw new CliError(`keys revoke takes one key id.\n\n${USAGE}`, 2);
    const record = await withStore((store) => store.revokeApiKey(id, Date.now()));
    if (record === null) throw new CliError(`No API key has the id "${id}" (see: switchboard keys list).`);
    process.stdout.write(`Revoked API key ${record.id} "${printable(record.name)}".\n`);
    return 0;
  }
  throw new CliError(`keys needs an action: create, list or revoke.\n\n${USAGE}`, 2);
};

function parseScopes(value: string | undefined): Scope[] {
  if (value === undefined) throw new CliError(`keys create needs --scopes (${SCOPES.join(', ')}).`, 2);
  const scopes = [...new Set(value.split(',').map((s) => s.trim()))].filter((s) => s !== '');
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new CliError(`--scopes must list some of ${SCOPES.join(', ')}; got "${value}".`, 2);
  }
  return scopes as Scope[];
}

function withStore<T>(work: (store: SqliteStore) => Promise<T>): Promise<T> {
  return withGatewayStore('keys must be stored where the gateway reads them.', work);
}

function table(records: ApiKeyRecord[]): string {
  const rows = records.map((r) => [
    r.id,
    printable(r.name),
    r.scopes.join(','),
    r.rateLimitPerMinute === null ? 'default' : `${r.rateLimitPerMinute}/min`,
    new Date(r.createdAt).toISOString(),
    r.revokedAt === null ? 'active' : `revoked ${new Date(r.revokedAt).toISOString()}`,
  ]);
  return formatTable(['ID', 'NAME', 'SCOPES', 'RATE LIMIT', 'CREATED', 'STATE'], rows);
}
