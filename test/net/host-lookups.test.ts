import { describe, expect, it } from 'vitest';
import { AddressPolicy } from '../../src/net/address-policy.js';
import { CallbackGuard } from '../../src/net/callback-guard.js';
import { HostLookups } from '../../src/net/host-lookups.js';
import type { ResolvedAddress } from '../../src/net/resolve.js';

const PUBLIC = '93.184.216.34';

/** A resolver under the test's control: every call waits until the test answers it. */
function heldResolver() {
  const calls: { hostname: string; answer: (a: ResolvedAddress[]) => void; fail: (e: Error) => void }[] = [];
  let underWay = 0;
  let most = 0;
  const resolve = (hostname: string) =>
    new Promise<ResolvedAddress[]>((answer, fail) => {
      underWay += 1;
      most = Math.max(most, underWay);
      const done = () => (underWay -= 1);
      calls.push({
        hostname,
        answer: (a) => {
          done();
          answer(a);
        },
        fail: (e) => {
          done();
          fail(e);
        },
      });
    });
  return { resolve, calls, most: () => most };
}

const notFound = () => Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('callback host lookups', () => {
  it('a batch of names whose server never answers holds no more than the cap, and answers 503 in time', async () => {
    const resolver = heldResolver();
    const guard = new CallbackGuard(new AddressPolicy(), resolver.resolve, {
      concurrency: 4,
      timeoutMs: 300,
    });
    const urls = Array.from({ length: 100 }, (_, i) => `https://r${i}.silent.example/cb`);
    const started = performance.now();
    const refused = await guard.check(urls);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(refused.size).toBe(100);
    expect(new Set([...refused.values()].map((e) => e.code))).toEqual(new Set(['service_unavailable']));
    // Four lookups were started; the 96 others left the queue at their deadline without one.
    expect(resolver.most()).toBe(4);
    expect(resolver.calls).toHaveLength(4);
    // The stuck four keep their slots until the resolver gives up on them; then lookups go on.
    for (const call of resolver.calls.splice(0))
      call.fail(Object.assign(new Error('t'), { code: 'ETIMEOUT' }));
    const next = guard.check(['https://fine.example/cb']);
    await tick();
    expect(resolver.calls.map((c) => c.hostname)).toEqual(['fine.example']);
    resolver.calls[0]!.answer([{ address: PUBLIC, family: 4 }]);
    expect((await next).size).toBe(0);
  });

  it('one lookup per name at a time; answers kept for their TTL, failures briefly', async () => {
    const resolver = heldResolver();
    const lookups = new HostLookups(resolver.resolve, { failureCacheMs: 200 });
    const a = lookups.resolve('hooks.example');
    const b = lookups.resolve('hooks.example');
    await tick();
    expect(resolver.calls).toHaveLength(1);
    resolver.calls[0]!.answer([{ address: PUBLIC, family: 4, ttl: 60 }]);
    expect(await a).toEqual(await b);
    await lookups.resolve('hooks.example');
    expect(resolver.calls).toHaveLength(1);

    // TTL 0 (as a rebinding name answers): asked again every time.
    const c = lookups.resolve('rebind.example');
    await tick();
    resolver.calls[1]!.answer([{ address: PUBLIC, family: 4, ttl: 0 }]);
    await c;
    const d = lookups.resolve('rebind.example');
    await tick();
    expect(resolver.calls).toHaveLength(3);
    resolver.calls[2]!.answer([{ address: PUBLIC, family: 4, ttl: 0 }]);
    await d;

    const e = lookups.resolve('nowhere.example');
    await tick();
    resolver.calls[3]!.fail(notFound());
    await expect(e).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(lookups.resolve('nowhere.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(resolver.calls).toHaveLength(4);
    await new Promise((r) => setTimeout(r, 250));
    void lookups.resolve('nowhere.example').catch(() => undefined);
    await tick();
    expect(resolver.calls).toHaveLength(5);
    resolver.calls[4]!.fail(notFound());
  });

  it('the send-time check and the connect-time lookup share one resolver, cap and cache', async () => {
    const resolver = heldResolver();
    const guard = new CallbackGuard(new AddressPolicy(), resolver.resolve, {
      concurrency: 1,
      timeoutMs: 5_000,
    });
    const checked = guard.check(['https://hooks.example/cb']);
    await tick();
    resolver.calls[0]!.answer([{ address: PUBLIC, family: 4, ttl: 60 }]);
    expect((await checked).size).toBe(0);
    const address = await new Promise<string>((resolve, reject) =>
      guard.lookup('hooks.example', {}, (err, a) => (err ? reject(err) : resolve(a as string))),
    );
    expect(address).toBe(PUBLIC);
    expect(resolver.calls).toHaveLength(1);
    // A connection's lookup waits its turn like the send API's.
    const busy = guard.check(['https://other.example/cb']);
    await tick();
    let connected = false;
    guard.lookup('third.example', {}, () => (connected = true));
    await tick();
    expect(resolver.calls.map((c) => c.hostname)).toEqual(['hooks.example', 'other.example']);
    resolver.calls[1]!.answer([{ address: PUBLIC, family: 4 }]);
    await busy;
    await tick();
    expect(resolver.calls.map((c) => c.hostname)).toEqual([
      'hooks.example',
      'other.example',
      'third.example',
    ]);
    resolver.calls[2]!.answer([{ address: PUBLIC, family: 4 }]);
    await tick();
    expect(connected).toBe(true);
  });
});
