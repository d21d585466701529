import { BlockList } from 'node:net';
import { ipv4Text, ipv6Bytes, type IpFamily, type Network } from './ip.js';

/** Why an address is not a public unicast one. */
export type AddressKind =
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unique-local'
  | 'unspecified'
  | 'shared'
  | 'multicast'
  | 'documentation'
  | 'reserved';

const DESCRIPTIONS: Record<AddressKind, string> = {
  loopback: 'a loopback address',
  private: 'a private network address',
  'link-local': 'a link-local address',
  'unique-local': 'a unique-local (private) IPv6 address',
  unspecified: 'an unspecified address',
  shared: 'a carrier-grade NAT address',
  multicast: 'a multicast address',
  documentation: 'a documentation address',
  reserved: 'a reserved address, not public unicast',
};

/** "a loopback address", for messages. */
export function describeKind(kind: AddressKind): string {
  return DESCRIPTIONS[kind];
}

// From IANA's IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates):
// https://www.iana.org/assignments/iana-ipv4-special-registry and .../iana-ipv6-special-registry.
// IPv6 outside 2000::/3 (global unicast) is refused as a whole below, which takes in ::, ::1, fc00::/7, fe80::/10,
// ff00::/8, 64:ff9b:1::/48 and 100::/64; the table still names the common ones so a refusal says what it was.
const RANGES: [AddressKind, IpFamily, string, number][] = [
  ['unspecified', 'ipv4', '0.0.0.0', 8],
  ['private', 'ipv4', '10.0.0.0', 8],
  ['shared', 'ipv4', '100.64.0.0', 10],
  ['loopback', 'ipv4', '127.0.0.0', 8],
  // Cloud metadata services (169.254.169.254) live here.
  ['link-local', 'ipv4', '169.254.0.0', 16],
  ['private', 'ipv4', '172.16.0.0', 12],
  ['reserved', 'ipv4', '192.0.0.0', 24],
  ['documentation', 'ipv4', '192.0.2.0', 24],
  ['reserved', 'ipv4', '192.88.99.0', 24],
  ['private', 'ipv4', '192.168.0.0', 16],
  ['reserved', 'ipv4', '198.18.0.0', 15],
  ['documentation', 'ipv4', '198.51.100.0', 24],
  ['documentation', 'ipv4', '203.0.113.0', 24],
  ['multicast', 'ipv4', '224.0.0.0', 4],
  // Includes the limited broadcast address 255.255.255.255.
  ['reserved', 'ipv4', '240.0.0.0', 4],
  ['unspecified', 'ipv6', '::', 128],
  ['loopback', 'ipv6', '::1', 128],
  ['unique-local', 'ipv6', 'fc00::', 7],
  ['link-local', 'ipv6', 'fe80::', 10],
  ['link-local', 'ipv6', 'fec0::', 10],
  ['multicast', 'ipv6', 'ff00::', 8],
  // IETF protocol assignments, Teredo (2001::/32) among them.
  ['reserved', 'ipv6', '2001::', 23],
  ['documentation', 'ipv6', '2001:db8::', 32],
  ['documentation', 'ipv6', '3fff::', 20],
];

/**
 * Which addresses a message's status callback may reach: public unicast only, plus the networks the operator
 * allows (CALLBACK_ALLOWED_NETWORKS). Addresses that carry an IPv4 address inside IPv6 (IPv4-mapped ::ffff:0:0/96,
 * NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that IPv4 address, so ::ffff:127.0.0.1 is loopback.
 *
 * Built on node:net's BlockList (well kept, and it matches CIDRs of both families); the embedded IPv4 forms are
 * read here because BlockList does not look inside them.
 */
export class AddressPolicy {
  readonly #allowed = new BlockList();
  readonly #refused = new Map<AddressKind, BlockList>();
  readonly #globalUnicast = new BlockList();

  constructor(allowed: readonly Network[] = []) {
    for (const n of allowed) this.#allowed.addSubnet(n.address, n.prefix, n.family);
    for (const [kind, family, address, prefix] of RANGES) {
      let list = this.#refused.get(kind);
      if (!list) this.#refused.set(kind, (list = new BlockList()));
      list.addSubnet(address, prefix, family);
    }
    this.#globalUnicast.addSubnet('2000::', 3, 'ipv6');
  }

  /** Null when a callback may go to `address`; otherwise what kind of address it is. */
  refusal(address: string, family: IpFamily): AddressKind | null {
    if (this.#allowed.check(address, family)) return null;
    if (family === 'ipv6') {
      const embedded = embeddedIPv4(address);
      if (embedded !== null) return this.refusal(embedded, 'ipv4');
    }
    for (const [kind, list] of this.#refused) if (list.check(address, family)) return kind;
    if (family === 'ipv6' && !this.#globalUnicast.check(address, 'ipv6')) return 'reserved';
    return null;
  }
}

/** The IPv4 address inside an IPv4-mapped, NAT64 (well-known prefix) or 6to4 IPv6 address; else null. */
export function embeddedIPv4(address: string): string | null {
  const b = ipv6Bytes(address);
  if (b === null) return null;
  const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return ipv4Text(b, 12);
  // 64:ff9b::a.b.c.d (RFC 6052)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12))
    return ipv4Text(b, 12);
  // 2002:aabb:ccdd::/48 (RFC 3056)
  if (b[0] === 0x20 && b[1] === 0x02) return ipv4Text(b, 2);
  return null;
}
