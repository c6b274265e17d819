/**
 * Which endpoint a device's request acts for: the one thing every guard in front of the
 * LwM2M services (identity binding, profile transport floor) must agree on, so it is
 * decided here once.
 */
import type { IncomingRequest, RemoteAddress } from '../coap/types.js';

export type ActingOperation = 'register' | 'update' | 'deregister' | 'send' | 'bootstrap';

export interface RequestActor {
  endpoint: string;
  operation: ActingOperation;
}

export interface RegistrationLookup {
  getById(id: string): { endpoint: string } | undefined;
  getByAddress(remote: RemoteAddress): { endpoint: string } | undefined;
}

/** The endpoint and operation, or undefined when the request names none the services would accept. */
export function actingFor(request: IncomingRequest, registrations: RegistrationLookup): RequestActor | undefined {
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
 * The first non-empty value of a query parameter. When several are present the services
 * refuse the request (duplicate parameter), so taking the first cannot let a second slip past.
 */
export function queryParam(query: readonly string[], name: string): string | undefined {
  const prefix = `${name}=`;
  for (const item of query) if (item.startsWith(prefix) && item.length > prefix.length) return item.slice(prefix.length);
  return undefined;
}

function named(query: readonly string[], operation: ActingOperation): RequestActor | undefined {
  const endpoint = queryParam(query, 'ep');
  return endpoint === undefined ? undefined : { endpoint, operation };
}
