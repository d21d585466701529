// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
/**
 * Characters that change how the text around them shows, or show as nothing at all. Format characters (\p{Cf}):
 * the bidirectional controls (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, U+200E/U+200F
 * marks, U+061C) reorder what follows on the screen, so `+14155550123` can display as another number or a file
 * name as another's ("Trojan Source"); zero-width characters (U+200B-U+200D, U+2060, U+FEFF), the soft hyphen
 * (U+00AD), invisible operators (U+2061-U+2064) and tag characters (U+E0000-U+E007F) make two different strings
 * look the same. So does every other default-ignorable code point (variation selectors, Hangul fillers...), which
 * a terminal may draw as nothing: Unicode's own list, rather than ours, so that none is missed.
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/u;
const ESCAPED = new RegExp(`${CONTROL.source}|${INVISIBLE.source}`, 'gu');
/** What JSON.stringify leaves as it is (it escapes U+0000-U+001F only) and a terminal must not get raw. */
const ESCAPED_IN_JSON = new RegExp(`[\\u007f-\\u009f]|${INVISIBLE.source}`, 'gu');

const hex = (code: number, digits: number) => code.toString(16).padStart(digits, '0');

/**
 * Text from outside (an inbound message's body, a carrier's error) as it may be printed on a terminal: control
 * characters (escape sequences could rewrite the screen or the window title) are shown as \\xNN, bidirectional
 * and invisible characters as \\uNNNN (\\u{NNNNN} above U+FFFF); newlines and tabs kept if asked.
 */
export function printable(text: string, keepLines = false): string {
  return text.replace(ESCAPED, (c) => {
    if (keepLines && (c === '\n' || c === '\t')) return c;
    const code = c.codePointAt(0) as number;
    if (CONTROL.test(c)) return `\\x${hex(code, 2)}`;
    return code <= 0xffff ? `\\u${hex(code, 4)}` : `\\u{${hex(code, 1)}}`;
  });
}

/**
 * `value` as indented JSON for a terminal: JSON.stringify's output with the characters printable() escapes that
 * it leaves raw (U+007F-U+009F, bidirectional and invisible ones) written as JSON escapes (\\uNNNN, a surrogate
 * pair above U+FFFF). The JSON stays valid and parses to the same value.
 */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(ESCAPED_IN_JSON, (c) => {
    let escaped = '';
    for (let i = 0; i < c.length; i++) escaped += `\\u${hex(c.charCodeAt(i), 4)}`;
    return escaped;
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
