import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { EVENT_TYPES } from './core/events.js';
import { eventsFileFields } from './events-config.js';
import { sendingFileFields } from './sending-config.js';

/** SWITCHBOARD_CONFIG: extend it, never rename what is here (operators' files depend on it). */
const ConfigFileSchema = Type.Object(
  { ...sendingFileFields, ...eventsFileFields },
  { additionalProperties: false },
);
export type ConfigFile = Static<typeof ConfigFileSchema>;

/** Reads and checks SWITCHBOARD_CONFIG; problems are appended one per bad field. An empty file when unset or bad. */
export function readConfigFile(path: string | undefined, problems: string[]): ConfigFile {
  if (path === undefined) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(
      `SWITCHBOARD_CONFIG: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
    );
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Not the parser's message: it quotes the text around the error, which may be a secret.
    const position = /at position (\d+)/.exec((err as Error).message)?.[1];
    const where = position === undefined ? '' : ` (${lineAndColumn(text, Number(position))})`;
    problems.push(`SWITCHBOARD_CONFIG: ${path} is not valid JSON${where}.`);
    return {};
  }
  const errors = [...Value.Errors(ConfigFileSchema, value)];
  if (errors.length === 0) return value as ConfigFile;
  // One line per bad field, named as an operator would write it: providers.twilio.mps, routes[0].toPrefix.
  const seen = new Set<string>();
  for (const error of errors) {
    const field = fieldName(error.path);
    if (seen.has(field)) continue;
    seen.add(field);
    problems.push(
      `SWITCHBOARD_CONFIG ${field}: ${explain(error.message, error.path, error.schema)}` +
        (echoable(error) ? `, got ${JSON.stringify(error.value) ?? 'nothing'}.` : '.'),
    );
  }
  return {};
}

/**
 * Whether a bad value may be quoted back (the message goes to the log): not anything of an endpoint (a secret, a URL
 * with a token), not a property the schema does not know (a misspelt "secret"), not an object or a long string.
 */
function echoable(error: ValueError): boolean {
  if (error.path.startsWith('/endpoints') || error.type === ValueErrorType.ObjectAdditionalProperties)
    return false;
  const value: unknown = error.value;
  return (
    value === null ||
    value === undefined ||
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    (typeof value === 'string' && value.length <= 64 && !value.startsWith('whsec_'))
  );
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

function fieldName(pointer: string): string {
  if (pointer === '') return '(the whole file)';
  return pointer
    .slice(1)
    .split('/')
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

function explain(message: string, path: string, schema: unknown): string {
  const s = schema as { pattern?: string; exclusiveMinimum?: number; minimum?: number; maximum?: number };
  if (path.endsWith('/toPrefix')) return 'must be "+" followed by digits (an E.164 prefix such as "+44")';
  if (path.endsWith('/messagingServiceSid')) return 'must be "MG" followed by 32 hex characters';
  if (path.endsWith('/mps')) return 'must be a number above 0 and at most 100000, or null for no limit';
  if (/^\/endpoints\/\d+\/id$/.test(path))
    return 'must be lowercase letters, digits, "-" or "_" (at most 63, starting with a letter or digit)';
  if (/^\/endpoints\/\d+\/url$/.test(path)) return 'must be an absolute http(s) URL';
  if (/^\/endpoints\/\d+\/events\/\d+$/.test(path)) return `must be one of ${EVENT_TYPES.join(', ')}`;
  // Never echo a secret back: this message goes to the log.
  if (path.endsWith('/secret')) return 'must be "whsec_" followed by base64';
  if (s.exclusiveMinimum !== undefined && s.maximum !== undefined)
    return `must be a number above ${s.exclusiveMinimum} and at most ${s.maximum}`;
  if (s.minimum !== undefined && s.maximum !== undefined)
    return `must be a whole number from ${s.minimum} to ${s.maximum}`;
  return message.charAt(0).toLowerCase() + message.slice(1);
}
