import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 'ipv4' | 'ipv6';

/** A CIDR network, as CALLBACK_ALLOWED_NETWORKS lists them. */
export interface Network {
  /** The network's address, as written (host bits zero). */
  address: string;
  prefix: number;
  family: IpFamily;
}

/** `127.0.0.1` or `[::1]` (as URL.hostname has it) -> the address and its family; null for a name. */
export function literalAddress(hostname: string): { address: string; family: IpFamily } | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (isIPv4(bare)) return { address: bare, family: 'ipv4' };
  if (isIPv6(bare)) return { address: bare, family: 'ipv6' };
  return null;
}

/**
 * The 16 bytes of an IPv6 address in any textual form (`::`, a dotted IPv4 tail, a `%zone`), or null.
 * node:net validates addresses but gives no access to their bytes, which reading an embedded IPv4 address needs.
 */
export function ipv6Bytes(text: string): Uint8Array | null {
  let address = text.split('%')[0] as string;
  if (!isIPv6(address)) return null;
  const lastColon = address.lastIndexOf(':');
  const tail = address.slice(lastColon + 1);
  if (tail.includes('.')) {
    // An IPv4 tail (::ffff:127.0.0.1) stands for the last two groups.
    const v4 = ipv4Bytes(tail);
    if (v4 === null) return null;
    const group = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
    address = `${address.slice(0, lastColon + 1)}${group(v4[0]!, v4[1]!)}:${group(v4[2]!, v4[3]!)}`;
  }
  const halves = address.split('::');
  const groups = (part: string | undefined) =>
    part === undefined || part === '' ? [] : part.split(':').map((g) => parseInt(g, 16));
  const left = groups(halves[0]);
  const right = groups(halves[1]);
  const zeros = halves.length === 2 ? 8 - left.length - right.length : 0;
  const all = [...left, ...Array<number>(zeros).fill(0), ...right];
  if (all.length !== 8 || all.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

export function ipv4Bytes(text: string): Uint8Array | null {
  if (!isIPv4(text)) return null;
  return Uint8Array.from(text.split('.').map(Number));
}

export function ipv4Text(bytes: Uint8Array, offset = 0): string {
  return Array.from(bytes.subarray(offset, offset + 4)).join('.');
}

/**
 * `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128). A problem in words, never the entry itself echoed
 * beyond what is needed, for the configuration's problem list.
 */
export function parseNetwork(text: string): Network | string {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family: IpFamily | null = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
  if (family === null) return `"${text}" is not an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8`;
  const max = family === 'ipv4' ? 32 : 128;
  const rawPrefix = slash === -1 ? String(max) : text.slice(slash + 1);
  const prefix = Number(rawPrefix);
  if (!/^\d{1,3}$/.test(rawPrefix) || prefix > max) {
    return `"${text}": the prefix length must be a whole number from 0 to ${max}`;
  }
  const bytes = family === 'ipv4' ? ipv4Bytes(address) : ipv6Bytes(address);
  if (bytes === null) return `"${text}" is not an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8`;
  const network = masked(bytes, prefix);
  if (network.some((b, i) => b !== bytes[i])) {
    const suggestion = family === 'ipv4' ? ipv4Text(network) : ipv6Text(network);
    return `"${text}" has bits set past its /${prefix} prefix (the network would be ${suggestion}/${prefix})`;
  }
  return { address, prefix, family };
}

function masked(bytes: Uint8Array, prefix: number): Uint8Array {
  return bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
}

/** Plain (uncompressed) IPv6 text; only for messages. */
function ipv6Text(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}
