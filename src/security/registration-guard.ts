/**
 * Puts the identity binding policy (endpoint-access.ts) in front of the LwM2M server's
 * request handler, once per listener: every operation that acts for an endpoint
 * (register, update, deregister, send, bootstrap request) is checked before the LwM2M
 * services see it, so a refused request changes nothing. Requests that act for no endpoint
 * (a malformed register, an unknown registration id) go through and get the services' own
 * 4.00 / 4.04 answer.
 */
import { CoapCode, type IncomingRequest, type OutgoingResponse, type RemoteAddress } from '../coap/types.js';
import type { SecurityViolationEvent } from '../lwm2m/server/events.js';
import type { Registration } from '../lwm2m/server/registration.js';
import type { SecurityInfo } from '../store/types.js';
import { checkEndpointAccess } from './endpoint-access.js';
import { actingFor } from './request-actor.js';

export interface RegistrationGuardOptions {
  security: { get(endpoint: string): SecurityInfo | undefined };
  registrations: { getById(id: string): Registration | undefined; getByAddress(remote: RemoteAddress): Registration | undefined };
  allowNoSec: boolean;
  onViolation(event: SecurityViolationEvent): void;
}

/** The device is told only that it was refused; why (which endpoint has which mode) goes to the operators' event. */
const FORBIDDEN: OutgoingResponse = { code: CoapCode.Forbidden, payload: Buffer.from('not authorized for this endpoint', 'utf8'), contentFormat: 0 };

export function guardRequests(
  handler: (request: IncomingRequest) => OutgoingResponse,
  secure: boolean,
  options: RegistrationGuardOptions,
): (request: IncomingRequest) => OutgoingResponse {
  return (request) => {
    const target = actingFor(request, options.registrations);
    if (target === undefined) return handler(request);
    const security = request.security;
    const decision = checkEndpointAccess(target.endpoint, { secure, security }, options.security.get(target.endpoint), options.allowNoSec);
    if (decision.allowed) return handler(request);
    options.onViolation({
      endpoint: target.endpoint,
      reason: decision.reason,
      remote: copy(request.remote),
      secure,
      ...(security ? { mode: security.mode, identity: security.identity } : {}),
      operation: target.operation,
    });
    return FORBIDDEN;
  };
}

function copy(remote: RemoteAddress): RemoteAddress {
  return { address: remote.address, port: remote.port };
}
