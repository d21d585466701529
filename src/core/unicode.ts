import { SwitchboardError } from './errors.js';

// UTF-16 surrogates without their pair. JSON can carry one ("\ud800"); UTF-8, and so the database, cannot: stored
// as it is, it becomes bytes that are not UTF-8. With the `u` flag a well-formed pair is one code point, so only a
// lone surrogate matches. (String.prototype.isWellFormed does the same, but is newer than the ES2023 library this
// project compiles against.)
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const LONE_SURROGATES = /[\uD800-\uDFFF]/gu;
/** A surrogate's escape in JSON text: only then can parsed JSON hold a lone one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/**
 * Refuses a request whose text fields (strings, or arrays of them) hold a lone surrogate: not text a carrier can
 * send, nor UTF-8 the database can hold.
 */
export function checkWellFormed(fields: object): void {
  for (const [field, value] of Object.entries(fields)) {
    const texts = Array.isArray(value) ? value : [value];
    if (texts.some((text) => typeof text === 'string' && hasLoneSurrogate(text))) {
      throw new SwitchboardError(
        'invalid_request',
        `${field} is not valid Unicode: it holds a lone UTF-16 surrogate (such as \\ud800 without its pair).`,
      );
    }
  }
}

/** The text with each lone surrogate replaced by U+FFFD, as a UTF-8 decoder does with a broken sequence. */
export function wellFormed(text: string): string {
  return LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATES, '\uFFFD') : text;
}

/**
 * JSON.parse, with every string made well-formed. The reviver runs only when the text escapes a surrogate, so
 * ordinary bodies parse at full speed.
 */
export function parseWellFormedJson(text: string): unknown {
  if (!SURROGATE_ESCAPE.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_key, value: unknown) => (typeof value === 'string' ? wellFormed(value) : value));
}
