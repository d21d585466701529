import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { SwitchboardError } from '../core/errors.js';
import { describeKind, type AddressKind, type AddressPolicy } from './address-policy.js';
import { literalAddress } from './ip.js';
import { HostLookups, type HostLookupOptions } from './host-lookups.js';
import type { ResolveHost, ResolvedAddress } from './resolve.js';

/** The code of the error a guarded connection fails with when its address is refused. */
export const ADDRESS_REFUSED = 'ERR_CALLBACK_ADDRESS_REFUSED';

/** Resolver answers meaning the name does not exist (or has no address): the client's mistake, not ours. */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA', 'EBADNAME']);

/**
 * Keeps messages' status callbacks (URLs chosen by API clients) off the gateway's own networks: an API key with
 * only the `send` scope must not make the gateway post to 127.0.0.1, 169.254.169.254 or a private service, nor use
 * the attempt log to scan their ports.
 *
 * Checked twice: when the message is sent (every address the name has must be allowed: `check`), and again on
 * every connection the deliverer opens (`lookup`, `allowsLiteral`), since a name can resolve to another address by
 * then (DNS rebinding). The connection goes to an address this check passed, never to a second lookup's answer.
 *
 * Endpoints from the configuration are the operator's own and are not guarded.
 */
export class CallbackGuard {
  readonly #policy: AddressPolicy;
  readonly #lookups: HostLookups;

  /**
   * `resolve` is used for both checks, through one HostLookups (a bounded number of lookups at once, answers kept
   * for their TTL): the send API's callers wait for it 5 s at most (then 503), a connection as long.
   */
  constructor(policy: AddressPolicy, resolve: ResolveHost, lookups: HostLookupOptions = {}) {
    this.#policy = policy;
    this.#lookups = new HostLookups(resolve, lookups);
  }

  /**
   * The send API's check: for each URL the gateway may not post to, the error to answer (`invalid_callback_url`, or
   * `service_unavailable` when the name could not be resolved right now). Each host is resolved once.
   */
  async check(urls: readonly string[]): Promise<Map<string, SwitchboardError>> {
    const verdicts = new Map<string, Promise<SwitchboardError | null>>();
    const refused = new Map<string, SwitchboardError>();
    await Promise.all(
      urls.map(async (url) => {
        const hostname = new URL(url).hostname;
        let verdict = verdicts.get(hostname);
        if (!verdict) verdicts.set(hostname, (verdict = this.#judge(hostname)));
        const error = await verdict;
        if (error) refused.set(url, error);
      }),
    );
    return refused;
  }

  /** For a URL whose host is an IP address: whether a connection may go there (a lookup never sees it). */
  allowsLiteral(hostname: string): boolean {
    const literal = literalAddress(hostname);
    return literal === null || this.#policy.refusal(literal.address, literal.family) === null;
  }

  /**
   * A `lookup` for node:net: resolves, refuses the connection if any address is not allowed (the error's code is
   * ADDRESS_REFUSED), and otherwise hands over exactly the addresses it checked.
   */
  readonly lookup: LookupFunction = (hostname, options: LookupOptions, callback) => {
    this.#lookups.resolve(hostname).then(
      (addresses) => {
        const wanted = addresses.filter((a) => familyMatches(a, options.family));
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
          return;
        }
        if (addresses.some((a) => this.#kind(a) !== null)) {
          callback(
            Object.assign(new Error('refused: the address is not allowed'), { code: ADDRESS_REFUSED }),
            '',
          );
          return;
        }
        if (options.all) callback(null, wanted as LookupAddress[]);
        else callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };

  async #judge(hostname: string): Promise<SwitchboardError | null> {
    const literal = literalAddress(hostname);
    if (literal !== null) {
      // An address the client wrote itself: saying what kind it is tells the client nothing it did not know.
      const kind = this.#policy.refusal(literal.address, literal.family);
      return kind === null
        ? null
        : refusal(
            `statusCallback's host ${hostname} is ${describeKind(kind)}; status callbacks go to public addresses only`,
          );
    }
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.#lookups.resolve(hostname);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== undefined && NO_SUCH_NAME.has(code)) return nameRefusal(hostname);
      return new SwitchboardError(
        'service_unavailable',
        `statusCallback's host ${hostname} could not be resolved right now; retry later.`,
      );
    }
    if (addresses.length === 0) return nameRefusal(hostname);
    for (const a of addresses) if (this.#kind(a) !== null) return nameRefusal(hostname);
    return null;
  }

  #kind(a: ResolvedAddress): AddressKind | null {
    return this.#policy.refusal(a.address, a.family === 6 ? 'ipv6' : 'ipv4');
  }
}

function refusal(why: string): SwitchboardError {
  return new SwitchboardError(
    'invalid_callback_url',
    `${why} (the gateway's operator can allow networks with CALLBACK_ALLOWED_NETWORKS).`,
  );
}

/**
 * Every refusal of a name in the same words: whether it does not exist or resolves to an address of the gateway's
 * own networks (and which kind) is what a client probing for internal DNS names must not learn.
 */
function nameRefusal(hostname: string): SwitchboardError {
  return refusal(`statusCallback's host ${hostname} must resolve, to public addresses only`);
}

function familyMatches(a: ResolvedAddress, family: LookupOptions['family']): boolean {
  if (family === 4 || family === 'IPv4') return a.family === 4;
  if (family === 6 || family === 'IPv6') return a.family === 6;
  return true;
}
