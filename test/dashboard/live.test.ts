import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import { connect as connectSocket, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LiveFeed } from '../../src/dashboard/live.js';
import { until } from '../helpers/wait.js';

// The feed over real HTTP on loopback: a server whose every request becomes an event stream.

let server: Server | undefined;
let feed: LiveFeed | undefined;
afterEach(async () => {
  vi.useRealTimers();
  feed?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = feed = undefined;
});

async function serve(f: LiveFeed, authorized: () => Promise<boolean> = async () => true): Promise<string> {
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
    f.add(req, res, authorized);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Stream {
  events: { event: string; data: string }[];
  ended: boolean;
  res: IncomingMessage;
}

async function connect(url: string): Promise<Stream> {
  const res = await new Promise<IncomingMessage>((resolve) => get(url, resolve));
  const stream: Stream = { events: [], ended: false, res };
  let buffer = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(
        frame
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
      );
      stream.events.push({ event: fields.event ?? '', data: fields.data ?? '' });
    }
  });
  res.on('end', () => {
    stream.ended = true;
  });
  return stream;
}

describe('LiveFeed', () => {
  it('sends a snapshot at once and then every interval, built once per tick for every client', async () => {
    let builds = 0;
    // A clock that moves one step per reading: a page connecting next reuses the last snapshot (it is younger than
    // half an interval) however slow the machine, while every tick (which wants a new one) builds.
    let clock = 0;
    feed = new LiveFeed({
      build: async () => ({ n: ++builds }),
      onError: () => {},
      intervalMs: 100,
      now: () => ++clock,
    });
    const url = await serve(feed);
    const a = await connect(url);
    await until(() => a.events.length >= 1);
    const b = await connect(url);
    await until(() => a.events.length >= 4 && b.events.length >= 3, 3000);
    expect(a.events[0]).toEqual({ event: 'snapshot', data: '{"n":1}' });
    // b connected after a's first snapshot: it got the latest one a got too, not a build of its own.
    expect(a.events.map((e) => e.data)).toContain(b.events[0]?.data);
    // Both get the same snapshots after that: one build per tick.
    const later = (s: Stream) => s.events.slice(-2).map((e) => e.data);
    await until(() => JSON.stringify(later(a)) === JSON.stringify(later(b)), 3000, 'the same snapshots');
    expect(builds).toBeLessThanOrEqual(Math.max(a.events.length, b.events.length) + 1);
  });

  it('stops building when the last client leaves', async () => {
    let builds = 0;
    feed = new LiveFeed({ build: async () => ({ n: ++builds }), onError: () => {}, intervalMs: 50 });
    const url = await serve(feed);
    const a = await connect(url);
    await until(() => a.events.length >= 2);
    a.res.destroy();
    await until(() => feed!.clients === 0);
    const stopped = builds;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(builds).toBeLessThanOrEqual(stopped + 1);
  });

  it('drops the clients of a connection that closed, those waiting behind another stream (pipelined) included', async () => {
    let builds = 0;
    feed = new LiveFeed({ build: async () => ({ n: ++builds }), onError: () => {}, intervalMs: 50 });
    const url = new URL(await serve(feed));
    const socket = connectSocket(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    // Three streams on one keep-alive connection: only the first gets the socket; the others' responses wait.
    socket.write(`GET / HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`.repeat(3));
    await until(() => feed!.clients === 3 && received.includes('event: snapshot'), 5_000, 'three clients');
    socket.destroy();
    // Nobody is left to read: no client, and no more snapshots built for nobody.
    await until(() => feed!.clients === 0, 5_000, 'every client dropped');
    const stopped = builds;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(builds).toBeLessThanOrEqual(stopped + 1);
  });

  it('sends `logout` and ends the stream of a client no longer authorized', async () => {
    let allowed = true;
    feed = new LiveFeed({ build: async () => ({}), onError: () => {}, intervalMs: 50 });
    const url = await serve(feed, async () => allowed);
    const a = await connect(url);
    await until(() => a.events.length >= 1);
    allowed = false;
    await until(() => a.ended, 2000, 'the stream to end');
    expect(a.events.at(-1)).toEqual({ event: 'logout', data: '{}' });
    expect(feed.clients).toBe(0);
  });

  it('keeps streams open through a failed build, reporting it', async () => {
    const errors: unknown[] = [];
    let fail = true;
    feed = new LiveFeed({
      build: async () => {
        if (fail) throw new Error('database gone');
        return { ok: true };
      },
      onError: (err) => errors.push(err),
      intervalMs: 50,
    });
    const url = await serve(feed);
    const a = await connect(url);
    await until(() => errors.length >= 2);
    expect(a.events).toEqual([]);
    fail = false;
    await until(() => a.events.length >= 1);
    expect(a.events[0]?.data).toBe('{"ok":true}');
    expect(a.ended).toBe(false);
  });

  it('ends every stream on close, and ends later ones at once', async () => {
    feed = new LiveFeed({ build: async () => ({}), onError: () => {}, intervalMs: 50 });
    const url = await serve(feed);
    const streams = await Promise.all([connect(url), connect(url)]);
    await until(() => streams.every((s) => s.events.length >= 1));
    feed.close();
    await until(() => streams.every((s) => s.ended));
    const late = await connect(url);
    await until(() => late.ended);
    expect(late.events).toEqual([]);
  });

  it('keeps building snapshots after the wall clock is stepped back an hour', async () => {
    // Only Date is faked (timers and performance.now stay real): NTP, or an operator, steps the clock back.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    let builds = 0;
    feed = new LiveFeed({ build: async () => ({ n: ++builds }), onError: () => {}, intervalMs: 50 });
    const url = await serve(feed);
    const a = await connect(url);
    await until(() => builds >= 3, 5_000, 'a few ticks');
    vi.setSystemTime(Date.now() - 3_600_000);
    const before = builds;
    // A tick every 50 ms: each builds a fresh snapshot (not the last one, which looks an hour newer than now).
    await until(() => builds >= before + 5, 5_000, 'snapshots built after the step');
    await until(() => a.events.at(-1)?.data === `{"n":${builds}}`, 5_000, 'the newest snapshot sent');
  });

  it('validates its interval', () => {
    expect(() => new LiveFeed({ build: async () => ({}), onError: () => {}, intervalMs: 0 })).toThrow(
      'Expected `intervalMs` to be a positive number, got 0',
    );
  });
});
