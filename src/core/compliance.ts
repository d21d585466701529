/**
 * Carrier compliance keywords (CTIA and the FCC's 2025 revocation rules). A message whose whole text is one of
 * these words (any case, surrounding spaces and punctuation ignored) changes the sender's consent for the number it
 * was sent to. Matching the whole text only, as carriers do, keeps "please don't stop" from opting anyone out.
 */
export type Keyword = 'stop' | 'start' | 'help';

const KEYWORDS: ReadonlyMap<string, Keyword> = new Map([
  ...['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'REVOKE'].map(
    (w) => [w, 'stop'] as const,
  ),
  ...['START', 'YES', 'UNSTOP', 'SUBSCRIBE'].map((w) => [w, 'start'] as const),
  ...['HELP', 'INFO'].map((w) => [w, 'help'] as const),
]);

// Longest keyword is 11 characters; anything much longer is ordinary text and skips the normalization work.
const MAX_KEYWORD_TEXT = 32;

export function detectKeyword(body: string): Keyword | null {
  if (body.length === 0 || body.length > MAX_KEYWORD_TEXT) return null;
  const word = body
    .trim()
    .replace(/^[\s\p{P}]+|[\s\p{P}]+$/gu, '')
    .toUpperCase();
  return KEYWORDS.get(word) ?? null;
}

/** What a keyword does to the opt-out list: STOP adds the pair, START removes it, HELP leaves it. */
export function optOutChange(keyword: Keyword | null): 'add' | 'remove' | null {
  if (keyword === 'stop') return 'add';
  if (keyword === 'start') return 'remove';
  return null;
}
