import { lookup } from 'node:dns/promises';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * A host name's addresses, every one of them (as `dns.lookup` with `all: true` gives them: the system's resolver,
 * /etc/hosts included). Rejects with the resolver's error (`ENOTFOUND` when the name does not exist). Injectable, so
 * that tests can answer what they need (a name that changes its address between two lookups, say).
 */
export type ResolveHost = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolve: ResolveHost = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));
