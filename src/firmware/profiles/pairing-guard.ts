/**
 * The transport floor of each device's profile, checked in front of the LwM2M services
 * like the identity guard in src/security (which runs first, so the channel's identity is
 * already known to be the endpoint's): a device held to a tier-2 profile that registers,
 * updates, de-registers or sends over plain CoAP or PSK is answered 4.03 and operators get
 * a securityViolation event. The services never see a refused request.
 *
 * A device declares its profile with `sp=<name>` in the Register query (LwM2M ignores
 * query parameters it does not know, so clients of other servers are unaffected).
 */
import { CoapCode, type IncomingRequest, type OutgoingResponse } from '../../coap/types.js';
import type { SecurityViolationEvent } from '../../lwm2m/server/events.js';
import type { Logger } from '../../util/logger.js';
import type { TransportSecurity } from './profile.js';
import { atLeastAsStrict, type ProfilePairing } from './pairing.js';
import { verifyTransport } from './verifier.js';
import { actingFor, queryParam, type RegistrationLookup } from '../../security/request-actor.js';

export const DECLARED_PROFILE_PARAM = 'sp';

export interface PairingGuardOptions {
  pairing: ProfilePairing;
  /** Endpoint of an existing registration, for update, de-register and send. */
  registrations: RegistrationLookup;
  onViolation(event: SecurityViolationEvent): void;
  logger?: Logger;
}

const FORBIDDEN: OutgoingResponse = { code: CoapCode.Forbidden, payload: Buffer.from('transport security below this device\'s profile', 'utf8'), contentFormat: 0 };

export function guardProfileTransport(
  handler: (request: IncomingRequest) => OutgoingResponse,
  options: PairingGuardOptions,
): (request: IncomingRequest) => OutgoingResponse {
  return (request) => {
    const target = actingFor(request, options.registrations);
    // Bootstrap requests have no profile floor here (this guard sits in front of the LwM2M server only).
    if (target === undefined || target.operation === 'bootstrap') return handler(request);
    const { endpoint, operation } = target;
    const declared = operation === 'register' ? queryParam(request.query, DECLARED_PROFILE_PARAM) : undefined;
    if (declared !== undefined && options.pairing.profile(declared) === undefined) {
      return { code: CoapCode.BadRequest, payload: Buffer.from(`unknown security profile "${declared}" (${DECLARED_PROFILE_PARAM}=)`, 'utf8'), contentFormat: 0 };
    }
    const pairing = options.pairing.resolve(endpoint, declared);
    if (pairing === undefined) return handler(request);
    if (declared !== undefined && pairing.source !== 'declared' && declared !== pairing.profile.name) {
      const own = options.pairing.profile(declared)!;
      const level = atLeastAsStrict(own, pairing.profile) ? 'debug' : 'warn';
      options.logger?.[level]({ ep: endpoint, declared, paired: pairing.profile.name, source: pairing.source }, 'device declared another security profile than its pairing; the pairing holds');
    }
    const transport: TransportSecurity = request.security?.mode ?? 'none';
    const check = verifyTransport(pairing.profile, transport);
    if (!check.ok) {
      options.onViolation({
        endpoint,
        reason: check.reason,
        remote: { address: request.remote.address, port: request.remote.port },
        secure: request.security !== undefined,
        ...(request.security ? { mode: request.security.mode, identity: request.security.identity } : {}),
        operation,
      });
      return FORBIDDEN;
    }
    const response = handler(request);
    if (declared !== undefined && response.code === CoapCode.Created) {
      void options.pairing.recordDeclared(endpoint, declared).catch((err: unknown) => options.logger?.error({ err, ep: endpoint }, 'could not store the declared security profile'));
    }
    return response;
  };
}

