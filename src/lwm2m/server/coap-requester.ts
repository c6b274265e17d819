import type {
  IncomingResponse,
  NotificationHandler,
  Observation,
  OutgoingRequest,
  RemoteAddress,
} from '../../coap/types.js';

/**
 * The part of the CoAP endpoint (src/coap/endpoint.ts) the LwM2M services use to reach
 * devices. Kept as an interface so the services run in memory in unit tests and unchanged
 * over CoAP, CoAPS or CoAP over TCP. Throws CoapTimeoutError / CoapResetError.
 */
export interface CoapRequester {
  request(remote: RemoteAddress, req: OutgoingRequest): Promise<IncomingResponse>;
  observe(remote: RemoteAddress, req: OutgoingRequest, onNotification: NotificationHandler): Promise<Observation>;
}
