import { localhostAddresses, type ResolveHost, type ResolvedAddress } from '../../src/net/resolve.js';

/**
 * A resolver for tests: each name answers the addresses listed (a list per call, the last one repeating: a name
 * can change its address between two lookups), `localhost` is 127.0.0.1 (as the gateway's own resolver has it), and anything else does
 * not exist (ENOTFOUND). `calls` records every name asked for.
 */
export function fakeResolver(
  names: Record<string, string[] | string[][]>,
): ResolveHost & { calls: string[] } {
  const calls: string[] = [];
  const seen = new Map<string, number>();
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    calls.push(hostname);
    const local = localhostAddresses(hostname);
    if (local !== null) return local;
    const entry = names[hostname];
    if (entry === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    }
    const answers = (Array.isArray(entry[0]) ? entry : [entry]) as string[][];
    const n = seen.get(hostname) ?? 0;
    seen.set(hostname, n + 1);
    const addresses = answers[Math.min(n, answers.length - 1)] as string[];
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}
