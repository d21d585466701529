import { Resolver } from 'node:dns/promises';
import { literalAddress } from './ip.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
  /** Seconds the answer may be kept (DNS TTL); absent: not at all. */
  ttl?: number;
}

/**
 * A host name's addresses, every one of them. Rejects with the resolver's error (`ENOTFOUND` when the name does not
 * exist). Injectable, so that tests can answer what they need (a name that changes its address between two lookups,
 * say).
 */
export type ResolveHost = (hostname: string) => Promise<ResolvedAddress[]>;

export interface DnsResolveOptions {
  /** Per query, the first try (c-ares doubles it for the next). @default 1000 */
  timeoutMs?: number;
  /** Tries per name server (c-ares). @default 2 */
  tries?: number;
  /** Name servers (`127.0.0.1:5353`); default: the system's (/etc/resolv.conf). */
  servers?: string[];
}

/** Answers that mean the name has no address of that family, does not exist, or cannot be one. */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA', 'EBADNAME']);

/**
 * Resolves callback hosts with DNS queries (c-ares: node:dns's Resolver), A and AAAA, rather than `dns.lookup`:
 * getaddrinfo runs on libuv's thread pool of 4, which also runs crypto (Telnyx's Ed25519 checks) and file work, so
 * names whose name server never answers would hold it for as long as the system resolver waits. c-ares runs on the
 * event loop with its own timeout and tries (by default a name server that never answers is given up on after
 * about 4 s, measured with one server).
 *
 * Not consulted: /etc/hosts, nsswitch, search domains. `localhost` and names under `.localhost` are 127.0.0.1
 * without asking anyone (RFC 6761 reserves them for loopback).
 */
export function dnsResolve(options: DnsResolveOptions = {}): ResolveHost {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 1000, tries: options.tries ?? 2 });
  if (options.servers) resolver.setServers(options.servers);
  return async (hostname) => {
    const local = localhostAddresses(hostname);
    if (local !== null) return local;
    const literal = literalAddress(hostname);
    if (literal !== null) return [{ address: literal.address, family: literal.family === 'ipv6' ? 6 : 4 }];
    const [v4, v6] = await Promise.allSettled([
      resolver.resolve4(hostname, { ttl: true }),
      resolver.resolve6(hostname, { ttl: true }),
    ]);
    const addresses: ResolvedAddress[] = [];
    if (v4.status === 'fulfilled') for (const a of v4.value) addresses.push({ ...a, family: 4 });
    if (v6.status === 'fulfilled') for (const a of v6.value) addresses.push({ ...a, family: 6 });
    // One family's answer is enough: a connection only ever goes to an address that was checked.
    if (addresses.length > 0) return addresses;
    const errors = [v4, v6].flatMap((r) =>
      r.status === 'rejected' ? [r.reason as NodeJS.ErrnoException] : [],
    );
    const temporary = errors.find((e) => e.code === undefined || !NO_SUCH_NAME.has(e.code));
    if (temporary) throw temporary;
    throw Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' });
  };
}

/** 127.0.0.1 for `localhost` and names under `.localhost` (with or without the root's dot); otherwise null. */
export function localhostAddresses(hostname: string): ResolvedAddress[] | null {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') ? [{ address: '127.0.0.1', family: 4 }] : null;
}
