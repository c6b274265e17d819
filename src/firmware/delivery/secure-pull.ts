/**
 * Pull over CoAPS: which devices get a coaps:// pull URI, where that URI points, and who
 * may fetch through it. A device talks to us over CoAPS when it has a DTLS session at its
 * registered address or has security info (the same test the device router uses to pick
 * the listener for our requests), and such a device's image leaves only through the CoAPS
 * listener, to the DTLS identity its security info names (the identity binding of
 * src/security/endpoint-access.ts, the one its registration passed).
 */
import type { Block2Served } from '../../coap/endpoint.js';
import type { OutgoingResponse, PeerSecurity, RemoteAddress } from '../../coap/types.js';
import type { Registration } from '../../lwm2m/server/registration.js';
import { checkEndpointAccess } from '../../security/endpoint-access.js';
import type { SecurityInfo } from '../../store/types.js';

export interface SecurePull {
  /** The CoAPS listener's bound address (for coaps:// pull URIs). */
  address(): RemoteAddress;
  /** The CoAPS listener, whose served blocks count as progress too. */
  endpoint: { onBlock2Served(listener: (served: Block2Served) => void): void; forgetBlock2Bodies?(test: (response: OutgoingResponse) => boolean): number };
  /** Whether the device talks to us over CoAPS (its image then goes only that way). */
  isSecure(endpoint: string): boolean;
  /** Why this DTLS peer may not fetch the image of `endpoint`, or undefined when it may. */
  refusal(endpoint: string, security: PeerSecurity): string | undefined;
}

export interface SecurePullSources {
  endpoint: SecurePull['endpoint'] & { address(): RemoteAddress };
  /** The authenticated peer of the DTLS session at `remote`, if any. */
  peerIdentity(remote: RemoteAddress): unknown;
  securityInfo(endpoint: string): SecurityInfo | undefined;
  registration(endpoint: string): Registration | undefined;
}

export function securePullOver(sources: SecurePullSources): SecurePull {
  return {
    address: () => sources.endpoint.address(),
    endpoint: sources.endpoint,
    isSecure(endpoint) {
      const registration = sources.registration(endpoint);
      if (registration === undefined) return sources.securityInfo(endpoint) !== undefined;
      return sources.peerIdentity(registration.address) !== undefined || sources.securityInfo(endpoint) !== undefined;
    },
    refusal(endpoint, security) {
      const decision = checkEndpointAccess(endpoint, { secure: true, security }, sources.securityInfo(endpoint), false);
      return decision.allowed ? undefined : decision.reason;
    },
  };
}
