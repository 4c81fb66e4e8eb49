// Who a request counts against. An IPv6 client usually holds a whole /64 and can pick a new
// address per request, so IPv6 is counted per /64; IPv4 (also when written IPv4-mapped) per address.
import { isIPv4, isIPv6 } from 'node:net';

function expandIpv6(ip: string): string[] {
  const [head, tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const missing = 8 - left.length - right.length;
  return [...left, ...Array(Math.max(missing, 0)).fill('0'), ...right].map((group) => group.padStart(4, '0').toLowerCase());
}

/** The bucket an address is counted in: the IPv4 address, or the IPv6 /64 prefix. */
export function sourceOf(ip: string): string {
  const bare = ip.replace(/%.*$/, ''); // zone id
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1];
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return bare;
  // An embedded IPv4 tail (::1.2.3.4) sits in the last 32 bits, outside the /64 we keep.
  const withoutV4Tail = bare.replace(/:\d+\.\d+\.\d+\.\d+$/, ':0:0');
  return `${expandIpv6(withoutV4Tail).slice(0, 4).join(':')}::/64`;
}
