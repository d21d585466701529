import type { LookupFunction } from 'node:net';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgents, postEvent, type Agents, type ConnectGuard } from '../../src/events/post.js';

// postEvent against raw TCP servers on loopback, which answer exactly what a misbehaving endpoint would.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A raw server: `reply` writes what it wants once a request arrives; `sockets` are the connections still open. */
async function rawServer(reply: (s: Socket) => void) {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.once('data', () => reply(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port, url: `http://127.0.0.1:${port}/cb`, sockets };
}

function agents(idleMs?: number): Agents {
  const made = createAgents(idleMs);
  cleanups.push(() => {
    made.http.destroy();
    made.https.destroy();
  });
  return made;
}

const options = (a: Agents, extra: { guard?: ConnectGuard; readBody?: boolean } = {}) => ({
  timeoutMs: 500,
  signal: new AbortController().signal,
  readBody: false,
  agents: a,
  ...extra,
});

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/** A trickle: the status line and headers at once, then one byte of the declared body a second. */
const trickle = (status: string, length: number) => (s: Socket) => {
  s.write(`HTTP/1.1 ${status}\r\nContent-Length: ${length}\r\n\r\n`);
  const t = setInterval(() => s.write('x'), 1000);
  s.on('close', () => clearInterval(t));
};

describe('postEvent’s connections', () => {
  it('closes a request that timed out', async () => {
    const srv = await rawServer(() => undefined);
    const r = await postEvent(srv.url, {}, '{}', options(agents()));
    expect(r.error).toBe('no answer within 500 ms');
    expect(await until(() => srv.sockets.size === 0, 5_000)).toBe(true);
  });

  it('holds no connection past the attempt’s deadline for an error answer whose body never ends', async () => {
    const srv = await rawServer(trickle('503 Service Unavailable', 1000));
    const a = agents();
    for (let i = 0; i < 5; i += 1) {
      const r = await postEvent(srv.url, {}, '{}', options(a));
      expect(r.statusCode).toBe(503);
    }
    // Each attempt had 500 ms; the server would go on for 1000 s (before the fix, all 5 stayed open).
    expect(await until(() => srv.sockets.size === 0, 5_000)).toBe(true);
  });

  it('holds no connection past the deadline for a 2xx whose body is not read and never ends', async () => {
    const srv = await rawServer(trickle('200 OK', 1000));
    const a = agents();
    for (let i = 0; i < 3; i += 1) {
      const r = await postEvent(srv.url, {}, '{}', options(a));
      expect(r.statusCode).toBe(200);
      expect(r.error).toBeNull();
    }
    expect(await until(() => srv.sockets.size === 0, 5_000)).toBe(true);
  });

  it('closes at once an answer declaring a body larger than it would read', async () => {
    const srv = await rawServer(trickle('500 Internal Server Error', 10_000_000));
    const r = await postEvent(srv.url, {}, '{}', { ...options(agents()), timeoutMs: 30_000 });
    expect(r.statusCode).toBe(500);
    expect(await until(() => srv.sockets.size === 0, 5_000)).toBe(true);
  });

  it('reuses a connection whose answer ended, and closes it once idle', async () => {
    let connections = 0;
    const srv = await rawServer((s) => {
      connections += 1;
      const answer = () => s.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno');
      answer();
      s.on('data', answer);
    });
    const a = agents(300);
    for (let i = 0; i < 3; i += 1) {
      expect((await postEvent(srv.url, {}, '{}', options(a))).statusCode).toBe(503);
      // The drained answer puts the connection back in the pool.
      expect(await until(() => Object.keys(a.http.freeSockets).length > 0, 5_000)).toBe(true);
    }
    expect(connections).toBe(1);
    // The server would keep it open forever; the agent closes it after 300 ms idle.
    expect(await until(() => srv.sockets.size === 0, 5_000)).toBe(true);
  });
});

describe('postEvent’s attempt log words', () => {
  /** A guard whose lookup fails as a connection would, with an address and a code in the error. */
  const failing = (code: string | undefined, message: string): ConnectGuard => {
    const lookup: LookupFunction = (_hostname, _options, callback) =>
      callback(Object.assign(new Error(message), code === undefined ? {} : { code }), '');
    return { lookup, allowsLiteral: () => true };
  };

  it.each([
    ['ETIMEDOUT', 'connect ETIMEDOUT 203.0.113.9:443', 'connection timed out (ETIMEDOUT)'],
    ['EHOSTUNREACH', 'connect EHOSTUNREACH 198.51.100.7:8443', 'host unreachable (EHOSTUNREACH)'],
    ['ESERVFAIL', 'queryA ESERVFAIL internal.example', 'host could not be resolved right now (ESERVFAIL)'],
    ['EWHATEVER', 'something at 203.0.113.9:443', 'connection failed (EWHATEVER)'],
    [undefined, 'connect to 203.0.113.9:443 failed', 'connection failed'],
    ['203.0.113.9:443', 'oops', 'connection failed'],
  ])('code %s: fixed words, never the error’s message nor an address', async (code, message, words) => {
    const r = await postEvent('http://hooks.example/cb', {}, '{}', {
      ...options(agents()),
      guard: failing(code, message),
    });
    expect(r.statusCode).toBeNull();
    expect(r.error).toBe(words);
  });

  it('says TLS failure with its code, not OpenSSL’s text', async () => {
    const srv = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const r = await postEvent(`https://127.0.0.1:${srv.port}/cb`, {}, '{}', options(agents()));
    expect(r.error).toMatch(/^TLS failure \([A-Z_]+\)$/);
  });

  it('says an answer that is not HTTP is not, without quoting it', async () => {
    const srv = await rawServer((s) => s.end('SSH-2.0-OpenSSH_9.6 203.0.113.9\r\n\r\n'));
    const r = await postEvent(srv.url, {}, '{}', options(agents()));
    expect(r.error).toMatch(/^not a valid HTTP answer \(HPE_[A-Z_]+\)$/);
  });
});
