/**
 * Text from outside (an inbound message's body) as it may be printed on a terminal: control characters (escape
 * sequences could rewrite the screen or the window title) are shown as \\xNN; newlines and tabs kept if asked.
 */
export function printable(text: string, keepLines = false): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    keepLines && (c === '\n' || c === '\t') ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
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
