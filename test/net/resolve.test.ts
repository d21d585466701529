import { pbkdf2 } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { dnsResolve } from '../../src/net/resolve.js';
import { startDnsServer } from '../helpers/dns-server.js';

// The callback resolver against a real name server on loopback UDP (test/helpers/dns-server.ts).

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function server(options: Parameters<typeof startDnsServer>[0]) {
  const dns = await startDnsServer(options);
  closers.push(dns.close);
  return dns;
}

describe('dnsResolve', () => {
  it('answers every A and AAAA address, with their TTLs', async () => {
    const dns = await server({
      names: { 'hooks.example': ['93.184.216.34', '2606:2800:220:1::1'] },
      ttl: 42,
    });
    const resolve = dnsResolve({ servers: [dns.server] });
    expect(await resolve('hooks.example')).toEqual([
      { address: '93.184.216.34', family: 4, ttl: 42 },
      { address: '2606:2800:220:1::1', family: 6, ttl: 42 },
    ]);
  });

  it('a name that does not exist: ENOTFOUND', async () => {
    const dns = await server({});
    await expect(dnsResolve({ servers: [dns.server] })('nowhere.example')).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
  });

  it('localhost and names under .localhost are 127.0.0.1, without a query', async () => {
    const dns = await server({ names: { 'app.localhost': ['93.184.216.34'] } });
    const resolve = dnsResolve({ servers: [dns.server] });
    for (const name of ['localhost', 'app.localhost', 'LOCALHOST.']) {
      expect(await resolve(name)).toEqual([{ address: '127.0.0.1', family: 4 }]);
    }
    expect(dns.queries).toEqual([]);
  });

  it('names whose server never answers fail on the resolver’s own timeout, and leave the thread pool free', async () => {
    const dns = await server({ silent: () => true });
    const resolve = dnsResolve({ servers: [dns.server], timeoutMs: 3_000, tries: 1 });
    let settled = 0;
    // More than libuv's 4 threads: getaddrinfo (dns.lookup) would hold all of them until the system resolver gave up.
    const lookups = Array.from({ length: 20 }, (_, i) =>
      resolve(`r${i}.silent.example`).finally(() => (settled += 1)),
    );
    // Crypto runs on the thread pool (Telnyx's signature checks among it): it goes on at once.
    await new Promise((done, fail) =>
      pbkdf2('secret', 'salt', 1, 32, 'sha256', (err) => (err ? fail(err) : done(undefined))),
    );
    expect(settled).toBe(0);
    const results = await Promise.allSettled(lookups);
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'ETIMEOUT' } });
  }, 30_000);
});
