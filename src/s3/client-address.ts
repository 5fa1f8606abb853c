// The address a request comes from: the socket's peer, or, when that peer is a proxy the operator trusts
// (--trusted-proxies, e.g. the HAProxy in front of the gateways), the address it forwarded in
// X-Forwarded-For. aws:SourceIp, the per-IP rate limits and the access log all read this one answer.
import type { IncomingMessage } from 'node:http';
import { cidrContains, parseCidr, parseIp, type Cidr } from '../iam/ip.js';

/** Proxies whose X-Forwarded-For is believed: addresses or CIDR blocks. */
export class TrustedProxies {
  private constructor(private readonly cidrs: readonly Cidr[]) {}

  /** Parses "--trusted-proxies" entries (an address stands for its own /32 or /128); throws RangeError naming a bad one. */
  static parse(entries: readonly string[]): TrustedProxies {
    const cidrs = entries.map((entry) => {
      const cidr = parseCidr(entry);
      if (!cidr) throw new RangeError(`Cannot use --trusted-proxies "${entry}": expected IP addresses or CIDR blocks`);
      return cidr;
    });
    return new TrustedProxies(cidrs);
  }

  trusts(address: string): boolean {
    const ip = parseIp(address);
    return ip !== undefined && this.cidrs.some((c) => cidrContains(c, ip));
  }

  /**
   * The client's address for a request from `peer`: X-Forwarded-For is read from its right end (what the
   * nearest proxy appended) for as long as each hop is trusted, so a client cannot pass itself off as
   * another by sending the header itself. An entry that is not an address stops the walk at the hop that sent it.
   */
  clientOf(peer: string | undefined, forwardedFor: string | string[] | undefined): string | undefined {
    if (peer === undefined || forwardedFor === undefined || !this.trusts(peer)) return peer;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let address = peer;
    for (let i = hops.length - 1; i >= 0 && this.trusts(address); i--) {
      const hop = hops[i]!.trim();
      if (parseIp(hop) === undefined) break;
      address = hop;
    }
    return address;
  }
}

/** The request's client address under `proxies` (none: the socket's peer). */
export function clientAddressOf(proxies: TrustedProxies | undefined, req: Pick<IncomingMessage, 'socket' | 'headers'>): string | undefined {
  const peer = req.socket.remoteAddress;
  return proxies ? proxies.clientOf(peer, req.headers['x-forwarded-for']) : peer;
}
