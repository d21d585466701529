import { Writable } from 'node:stream';
import { pino } from 'pino';

/** A real pino logger whose lines are kept in memory, for asserting what the gateway logs. */
export function captureLogs(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(chunk.toString());
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines, text: () => raw.join('') };
}
