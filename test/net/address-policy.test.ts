import { describe, expect, it } from 'vitest';
import { AddressPolicy, embeddedIPv4 } from '../../src/net/address-policy.js';
import { ipv6Bytes, literalAddress, parseNetwork, type Network } from '../../src/net/ip.js';

const policy = new AddressPolicy();
const judge = (address: string, p = policy) => {
  const literal = literalAddress(address);
  if (literal === null) throw new Error(`not an address: ${address}`);
  return p.refusal(literal.address, literal.family);
};

describe('the callback address policy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['192.0.2.10', 'documentation'],
    ['2001:db8::1', 'documentation'],
    // Teredo and the other IETF protocol assignments.
    ['2001::1', 'reserved'],
    // Outside global unicast (2000::/3): the deprecated IPv4-compatible form, NAT64 local-use, discard-only.
    ['::7f00:1', 'reserved'],
    ['64:ff9b:1::a00:1', 'reserved'],
    ['100::1', 'reserved'],
    // IPv4 inside IPv6 is judged by its IPv4 address.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::192.168.0.1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a00:1::1', 'private'],
  ])('refuses %s (%s)', (address, kind) => {
    expect(judge(address)).toBe(kind);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('allows the public address %s', (address) => {
    expect(judge(address)).toBeNull();
  });

  it('allows the networks the operator lists, in either family and inside IPv6 forms', () => {
    const allowed = [
      parseNetwork('10.0.0.0/8'),
      parseNetwork('127.0.0.1'),
      parseNetwork('fd00:1::/32'),
    ] as Network[];
    const p = new AddressPolicy(allowed);
    expect(judge('10.200.3.4', p)).toBeNull();
    expect(judge('127.0.0.1', p)).toBeNull();
    expect(judge('::ffff:127.0.0.1', p)).toBeNull();
    expect(judge('fd00:1:2::3', p)).toBeNull();
    // Only those.
    expect(judge('127.0.0.2', p)).toBe('loopback');
    expect(judge('192.168.0.1', p)).toBe('private');
    expect(judge('fd00:2::1', p)).toBe('unique-local');
    expect(judge('::1', p)).toBe('loopback');
  });
});

describe('IP address parsing', () => {
  it('reads IPv6 addresses in every textual form', () => {
    const hex = (text: string) => Buffer.from(ipv6Bytes(text)!).toString('hex');
    expect(hex('::')).toBe('0'.repeat(32));
    expect(hex('::1')).toBe(`${'0'.repeat(31)}1`);
    expect(hex('2001:db8::8:800:200c:417a')).toBe('20010db80000000000080800200c417a');
    expect(hex('::ffff:127.0.0.1')).toBe(`${'0'.repeat(20)}ffff7f000001`);
    expect(hex('fe80::1%eth0')).toBe(`fe80${'0'.repeat(27)}1`);
    expect(hex('1:2:3:4:5:6:7:8')).toBe('00010002000300040005000600070008');
    expect(ipv6Bytes('not an address')).toBeNull();
    expect(ipv6Bytes('1::2::3')).toBeNull();
    expect(embeddedIPv4('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(embeddedIPv4('2001:db8::1')).toBeNull();
  });

  it('reads URL hosts: IPv4, bracketed IPv6, names', () => {
    // The WHATWG URL parser has already normalized 0x7f000001, 017700000001 and 127.1 to 127.0.0.1.
    expect(literalAddress(new URL('http://0x7f000001/').hostname)).toEqual({
      address: '127.0.0.1',
      family: 'ipv4',
    });
    expect(literalAddress(new URL('http://[::ffff:127.0.0.1]/').hostname)).toEqual({
      address: '::ffff:7f00:1',
      family: 'ipv6',
    });
    expect(literalAddress('app.example.com')).toBeNull();
  });

  it('parses networks, and says what is wrong with a bad one', () => {
    expect(parseNetwork('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseNetwork('127.0.0.1')).toEqual({ address: '127.0.0.1', prefix: 32, family: 'ipv4' });
    expect(parseNetwork('fd00::/8')).toEqual({ address: 'fd00::', prefix: 8, family: 'ipv6' });
    expect(parseNetwork('10.0.0.0/33')).toMatch(/prefix length must be a whole number from 0 to 32/);
    expect(parseNetwork('10.0.0.0/x')).toMatch(/prefix length/);
    expect(parseNetwork('localhost')).toMatch(/not an IPv4 or IPv6 network/);
    expect(parseNetwork('10.0.0.1/8')).toMatch(/the network would be 10\.0\.0\.0\/8/);
    expect(parseNetwork('fd00::1/8')).toMatch(/the network would be fd00:0:0:0:0:0:0:0\/8/);
  });
});
