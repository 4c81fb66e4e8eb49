// The network an address belongs to, as adaptive MFA compares them: an IPv4 /24 or an IPv6 /48
// (a home or office line; its addresses change, its prefix rarely does).
import { sourceOf } from '../abuse/sources.ts';

export function networkOf(ip: string): string {
  const source = sourceOf(ip);
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.\d+$/.exec(source);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  const v6 = /^([0-9a-f]{4}):([0-9a-f]{4}):([0-9a-f]{4}):[0-9a-f]{4}::\/64$/.exec(source);
  if (v6) return `${v6[1]}:${v6[2]}:${v6[3]}::/48`;
  return source;
}
