/**
 * The identity binding policy in front of the bootstrap server, once per listener (plain
 * CoAP and CoAPS): a bootstrap request (`POST /bs?ep=Y`) passes only when the channel may
 * act for Y (endpoint-access.ts, with the bootstrap credentials of Y's configuration), so
 * identity X bootstrapping as Y, and a device with bootstrap credentials coming over plain
 * CoAP, get 4.03 and a securityViolation event, and no session starts.
 *
 * When Y's configuration asks (`registerCredentials`), the server credential is put into
 * the LwM2M server's security store before the bootstrap is accepted: the session then
 * writes it to the device, and the device's first CoAPS handshake after Bootstrap-Finish
 * cannot race the store write.
 */
import { CoapCode, type IncomingRequest, type OutgoingResponse, type RemoteAddress, type RequestHandler } from '../coap/types.js';
import type { SecurityViolationEvent } from '../lwm2m/server/events.js';
import type { SecurityInfo } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { checkEndpointAccess } from './endpoint-access.js';

export interface BootstrapGuardOptions {
  credentials: { get(endpoint: string): SecurityInfo | undefined; serverCredentialOf(endpoint: string): SecurityInfo | undefined };
  /** The LwM2M server's security store (the registry), for registerCredentials. */
  serverSecurity: { get(endpoint: string): SecurityInfo | undefined; put(info: SecurityInfo): Promise<void> };
  allowNoSec: boolean;
  onViolation(event: SecurityViolationEvent): void;
  logger: Logger;
}

const FORBIDDEN: OutgoingResponse = { code: CoapCode.Forbidden, payload: Buffer.from('not authorized for this endpoint', 'utf8'), contentFormat: 0 };

export function guardBootstrapRequests(handler: RequestHandler, secure: boolean, options: BootstrapGuardOptions): (request: IncomingRequest) => Promise<OutgoingResponse> {
  return async (request) => {
    const endpoint = bootstrapEndpoint(request);
    if (endpoint === null) return { code: CoapCode.BadRequest, payload: Buffer.from('ep must be given once', 'utf8'), contentFormat: 0 };
    if (endpoint === undefined) return handler(request);
    const security = request.security;
    const decision = checkEndpointAccess(endpoint, { secure, security }, options.credentials.get(endpoint), options.allowNoSec);
    if (!decision.allowed) {
      options.onViolation({
        endpoint,
        reason: decision.reason,
        remote: copy(request.remote),
        secure,
        ...(security ? { mode: security.mode, identity: security.identity } : {}),
        operation: 'bootstrap',
      });
      return FORBIDDEN;
    }
    const wanted = options.credentials.serverCredentialOf(endpoint);
    if (wanted && !sameCredential(options.serverSecurity.get(endpoint), wanted)) {
      try {
        await options.serverSecurity.put(wanted);
        options.logger.info({ ep: endpoint, mode: wanted.mode }, 'server credential registered by bootstrap');
      } catch (err) {
        // E.g. the PSK identity already belongs to another endpoint: handing it out would leave a device that cannot register.
        options.logger.error({ ep: endpoint, err }, 'could not register the server credential of a bootstrap configuration');
        return { code: CoapCode.InternalServerError, payload: Buffer.from('server credential could not be registered', 'utf8'), contentFormat: 0 };
      }
    }
    return handler(request);
  };
}

/**
 * The `ep` of a bootstrap request, or null when it names several: the bootstrap server's
 * own parser keeps the last one, so checking any single one could let another slip past.
 */
function bootstrapEndpoint(request: IncomingRequest): string | undefined | null {
  if (request.method !== 'POST' || request.path.length !== 1 || request.path[0] !== 'bs') return undefined;
  const named = request.query.filter((item) => item === 'ep' || item.startsWith('ep='));
  if (named.length > 1) return null;
  return named.length === 1 && named[0].length > 3 ? named[0].slice(3) : undefined;
}

function sameCredential(a: SecurityInfo | undefined, b: SecurityInfo): boolean {
  if (!a || a.mode !== b.mode) return false;
  const equal = (x: Buffer | undefined, y: Buffer | undefined): boolean => (x === undefined ? y === undefined : y !== undefined && x.equals(y));
  return a.pskIdentity === b.pskIdentity && equal(a.pskKey, b.pskKey) && equal(a.rpkPublicKey, b.rpkPublicKey) && a.x509Subject === b.x509Subject;
}

function copy(remote: RemoteAddress): RemoteAddress {
  return { address: remote.address, port: remote.port };
}
