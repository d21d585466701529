import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv4 } from 'node:net';

/**
 * A DNS name server on loopback UDP for tests, enough for A and AAAA questions: names listed answer their addresses
 * (with `ttl`), names `silent` says so get no answer at all (a zone whose server is down), anything else NXDOMAIN.
 * Written out (RFC 1035's wire format) because no DNS server package is a dependency; it answers one question per
 * query, as resolvers ask.
 */
export async function startDnsServer(options: {
  names?: Record<string, string[]>;
  ttl?: number;
  silent?: (name: string) => boolean;
}): Promise<{ server: string; queries: string[]; close(): Promise<void> }> {
  const socket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (query: Buffer, from: RemoteInfo) => {
    const question = readQuestion(query);
    if (question === null) return;
    queries.push(question.name);
    if (options.silent?.(question.name)) return;
    const listed = options.names?.[question.name];
    const wanted = (listed ?? []).filter((a) => (question.type === 1 ? isIPv4(a) : !isIPv4(a)));
    const answers = question.type === 1 || question.type === 28 ? wanted : [];
    socket.send(
      answer(query, question.end, listed === undefined, answers, options.ttl ?? 60),
      from.port,
      from.address,
    );
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    server: `127.0.0.1:${socket.address().port}`,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function readQuestion(query: Buffer): { name: string; type: number; end: number } | null {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let at = 12;
  while (at < query.length && query[at] !== 0) {
    const length = query[at] as number;
    labels.push(query.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  at += 1;
  if (at + 4 > query.length) return null;
  return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(at), end: at + 4 };
}

function answer(
  query: Buffer,
  questionEnd: number,
  nxdomain: boolean,
  addresses: string[],
  ttl: number,
): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  // QR, the query's RD, RA; RCODE 3 (NXDOMAIN) for a name that does not exist.
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (nxdomain ? 3 : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => {
    const rdata = isIPv4(address) ? Buffer.from(address.split('.').map(Number)) : ipv6(address);
    const record = Buffer.alloc(12);
    record.writeUInt16BE(0xc00c, 0); // the question's name
    record.writeUInt16BE(isIPv4(address) ? 1 : 28, 2);
    record.writeUInt16BE(1, 4);
    record.writeUInt32BE(ttl, 6);
    record.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([record, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
}

/** Full or `::`-shortened IPv6 text (no IPv4 tail) to its 16 bytes. */
function ipv6(text: string): Buffer {
  const [left = '', right = ''] = text.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const l = groups(left);
  const r = groups(right);
  const all = [...l, ...Array<number>(8 - l.length - r.length).fill(0), ...r];
  const bytes = Buffer.alloc(16);
  all.forEach((g, i) => bytes.writeUInt16BE(g, 2 * i));
  return bytes;
}
