/**
 * One LwM2M server behind two listeners (CoAP and CoAPS): the server's requests to a
 * device must leave through the listener the device talks to. A device with a DTLS
 * session at its address is reached over CoAPS. A device without one is reached over
 * plain CoAP only when it has no security info: a device that must use DTLS but whose
 * session is gone (server restart, idle eviction) is still addressed through CoAPS, where
 * the request finds no session and times out, rather than leaking its data in clear.
 */
import type { IncomingResponse, NotificationHandler, Observation, OutgoingRequest, RemoteAddress } from '../coap/types.js';
import type { CoapRequester } from '../lwm2m/server/coap-requester.js';

export interface DeviceRouterOptions {
  plain: CoapRequester;
  secure: CoapRequester;
  /** True when a DTLS session with an authenticated peer exists at `remote`. */
  hasSecureSession(remote: RemoteAddress): boolean;
  /** True when the device registered at `remote` has security info (so must never get plain CoAP). */
  requiresSecurity(remote: RemoteAddress): boolean;
}

export class DeviceRouter implements CoapRequester {
  constructor(private readonly options: DeviceRouterOptions) {}

  request(remote: RemoteAddress, req: OutgoingRequest): Promise<IncomingResponse> {
    return this.route(remote).request(remote, req);
  }

  observe(remote: RemoteAddress, req: OutgoingRequest, onNotification: NotificationHandler): Promise<Observation> {
    return this.route(remote).observe(remote, req, onNotification);
  }

  /** Which listener a request to `remote` leaves through. */
  route(remote: RemoteAddress): CoapRequester {
    const { plain, secure, hasSecureSession, requiresSecurity } = this.options;
    return hasSecureSession(remote) || requiresSecurity(remote) ? secure : plain;
  }
}
