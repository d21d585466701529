// A URL's user name and password (`https://user:secret@host`, `postgres://app:secret@db/switchboard`) must never
// reach a log line or a terminal through a message that quotes the URL: configuration errors, the CLI's errors.
// Written here rather than with the URL parser alone: the values to hide are most often in the URLs that do not
// parse (a password with a raw `/` or `#`), and a quoted URL sits in free text.

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * `url` with everything between the scheme and its last `@` replaced by `***`: `postgres://***@db/switchboard`.
 * The last `@`, not the first: a password may hold a raw `@`, and hiding more of a URL (one with an `@` in its
 * path) in a message costs nothing. A value with no `@` is returned as it is.
 */
export function withoutCredentials(url: string): string {
  const at = url.lastIndexOf('@');
  if (at < 0) return url;
  const start = SCHEME.exec(url)?.[0].length ?? 0;
  return at < start ? url : `${url.slice(0, start)}***${url.slice(at)}`;
}

// A URL in free text: a scheme and `//`, then up to the last `@` before whitespace or a quote.
const CREDENTIALS_IN_TEXT = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^\s"'`<>]*@/g;

/** Every URL in `text` with its credentials hidden (see withoutCredentials). */
export function hideUrlCredentials(text: string): string {
  return text.replace(CREDENTIALS_IN_TEXT, '$1***@');
}
