import type { RemoteAddress } from './types.js';

/**
 * A map key for a peer's address and port that costs no string per datagram: an IPv4 peer
 * is address × 65536 + port (an exact integer below 2^48); anything else (IPv6, names) is an
 * "address|port" string.
 */
export function peerKey(remote: RemoteAddress): number | string {
  const address = remote.address;
  let ip = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || octet > 255) return `${address}|${remote.port}`;
      ip = ip * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      octet = octet * 10 + (c - 48);
      digits++;
    } else {
      return `${address}|${remote.port}`;
    }
  }
  if (dots !== 3 || digits === 0 || octet > 255) return `${address}|${remote.port}`;
  return (ip * 256 + octet) * 65536 + remote.port;
}
