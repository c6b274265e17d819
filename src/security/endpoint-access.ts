/**
 * The identity binding policy: may this peer act as this endpoint? One pure function, so
 * every rule is tested on its own. The rules follow Leshan's SecurityChecker:
 *
 * - Over CoAPS the device must have security info, in the mode it used, and the
 *   credential it proved (PSK identity, raw public key, certificate CN) must be that
 *   endpoint's. A DTLS session without client authentication proves nothing and is refused.
 * - Over plain CoAP an endpoint with security info is always refused (its credential
 *   would be pointless otherwise); one without is admitted only when `allowNoSec` is on.
 */
import type { PeerSecurity } from '../coap/types.js';
import type { SecurityInfo } from '../store/types.js';

/** How the request reached us. */
export interface Channel {
  secure: boolean;
  /** Undefined over plain CoAP and over an unauthenticated DTLS session. */
  security: PeerSecurity | undefined;
}

export type AccessDecision = { allowed: true } | { allowed: false; reason: string };

const ALLOWED: AccessDecision = { allowed: true };

export function checkEndpointAccess(endpoint: string, channel: Channel, info: SecurityInfo | undefined, allowNoSec: boolean): AccessDecision {
  if (!channel.secure) {
    if (info !== undefined) return deny(`endpoint "${endpoint}" has ${info.mode} security info and must use CoAPS`);
    if (!allowNoSec) return deny(`plain CoAP is not allowed on this server (--allow-nosec is off); endpoint "${endpoint}" needs security info`);
    return ALLOWED;
  }
  const peer = channel.security;
  if (peer === undefined) return deny('the DTLS session did not authenticate the client');
  if (info === undefined) return deny(`endpoint "${endpoint}" has no security info, so no DTLS identity may act for it`);
  if (info.mode !== peer.mode) return deny(`endpoint "${endpoint}" expects ${info.mode}, the client authenticated with ${peer.mode}`);
  switch (info.mode) {
    case 'psk':
      return info.pskIdentity !== undefined && info.pskIdentity === peer.identity
        ? ALLOWED
        : deny(`PSK identity "${peer.identity}" is not the identity of endpoint "${endpoint}"`);
    case 'rpk':
      return info.rpkPublicKey !== undefined && info.rpkPublicKey.toString('hex') === peer.identity
        ? ALLOWED
        : deny(`the client's raw public key is not the one of endpoint "${endpoint}"`);
    case 'x509': {
      const expected = expectedCertificateCN(info);
      return expected === peer.identity
        ? ALLOWED
        : deny(`certificate CN "${peer.identity}" is not the expected "${expected}" of endpoint "${endpoint}"`);
    }
  }
}

/** The certificate subject CN an x509 endpoint must present: the configured mapping, else the endpoint name. */
export function expectedCertificateCN(info: SecurityInfo): string {
  return info.x509Subject ?? info.endpoint;
}

function deny(reason: string): AccessDecision {
  return { allowed: false, reason };
}
