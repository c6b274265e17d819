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
import { addressKey, type Registration } from '../lwm2m/server/registration.js';
import type { SecurityInfo } from '../store/types.js';
import { checkEndpointAccess } from './endpoint-access.js';

export interface RegistrationGuardOptions {
  security: { get(endpoint: string): SecurityInfo | undefined };
  registrations: { getById(id: string): Registration | undefined; getByAddress(remote: RemoteAddress): Registration | undefined };
  allowNoSec: boolean;
  onViolation(event: SecurityViolationEvent): void;
}

type Operation = 'register' | 'update' | 'deregister' | 'send' | 'bootstrap';

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

/** Which endpoint the request acts for, or undefined when it names none the services would accept. */
function actingFor(request: IncomingRequest, registrations: RegistrationGuardOptions['registrations']): { endpoint: string; operation: Operation } | undefined {
  const [first, second, third] = request.path;
  if (third !== undefined) return undefined;
  if (first === 'rd' && second === undefined && request.method === 'POST') return named(request.query, 'register');
  if (first === 'bs' && second === undefined && request.method === 'POST') return named(request.query, 'bootstrap');
  if (first === 'rd' && second !== undefined && (request.method === 'POST' || request.method === 'DELETE')) {
    const registration = registrations.getById(second);
    return registration && { endpoint: registration.endpoint, operation: request.method === 'POST' ? 'update' : 'deregister' };
  }
  if (first === 'dp' && second === undefined && request.method === 'POST') {
    const registration = registrations.getByAddress(request.remote);
    return registration && { endpoint: registration.endpoint, operation: 'send' };
  }
  return undefined;
}

/**
 * The `ep` query parameter. When several are present the services refuse the request
 * (duplicate parameter), so taking the first one cannot let a second one slip past.
 */
function named(query: readonly string[], operation: Operation): { endpoint: string; operation: Operation } | undefined {
  for (const item of query) {
    if (item.startsWith('ep=') && item.length > 3) return { endpoint: item.slice(3), operation };
  }
  return undefined;
}

function copy(remote: RemoteAddress): RemoteAddress {
  return { address: remote.address, port: remote.port };
}
