// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/**
 * Bidirectional controls (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, U+200E/U+200F marks,
 * U+061C) reorder what follows on the screen, so `+14155550123` can display as another number or a file name as
 * another's ("Trojan Source"); zero-width characters (U+200B-U+200D, U+2060, U+FEFF) make two different strings
 * look the same.
 */
const INVISIBLE = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff]/;
const ESCAPED = new RegExp(`${CONTROL.source}|${INVISIBLE.source}`, 'g');

/**
 * Text from outside (an inbound message's body, a carrier's error) as it may be printed on a terminal: control
 * characters (escape sequences could rewrite the screen or the window title) are shown as \\xNN, bidirectional
 * and zero-width characters as \\uNNNN; newlines and tabs kept if asked.
 */
export function printable(text: string, keepLines = false): string {
  return text.replace(ESCAPED, (c) => {
    if (keepLines && (c === '\n' || c === '\t')) return c;
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Columns padded to their widest cell, for a terminal. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
