import { CoapCode, type IncomingRequest, type OutgoingResponse } from '../../coap/types.js';
import type { Clock } from '../../util/clock.js';
import type { Lwm2mEvents } from './events.js';
import {
  ALL_VERSIONS,
  parseRegisterRequest,
  parseUpdateRequest,
  RegistrationRequestError,
} from './registration-request.js';
import type { RegistrationStore } from './registration-store.js';
import type { Lwm2mVersion, Registration } from './registration.js';

/**
 * Extra time after a lifetime before a registration is dropped: a device that sends its
 * update right at the end of its lifetime may need its first three CoAP transmissions
 * (2 + 4 + 8 s with ACK_TIMEOUT 2 s) to get through.
 */
export const DEFAULT_EXPIRY_GRACE_MS = 15_000;

export interface RegistrationLifecycle {
  /** Register or update received (queue mode: the device is awake). */
  onRegistrationMessage(registration: Registration): void;
  /** Deregistered, expired or replaced by a new registration of the same endpoint. */
  onGone(registration: Registration, reason: 'deregistered' | 'expired' | 'replaced'): void;
}

export interface RegistrationServiceOptions {
  store: RegistrationStore;
  events: Lwm2mEvents;
  clock: Clock;
  lifecycle: RegistrationLifecycle;
  expiryGraceMs?: number;
  supportedVersions?: readonly Lwm2mVersion[];
  /** Ids for new registrations; default: the store's own (see RegistrationStore.newId). */
  newId?: () => string;
}

/** The registration interface: register, update, deregister, and expiry of silent devices. */
export class RegistrationService {
  readonly expiryGraceMs: number;
  private readonly store: RegistrationStore;
  private readonly events: Lwm2mEvents;
  private readonly clock: Clock;
  private readonly lifecycle: RegistrationLifecycle;
  private readonly supportedVersions: readonly Lwm2mVersion[];
  private readonly newId: () => string;

  constructor(options: RegistrationServiceOptions) {
    this.store = options.store;
    this.events = options.events;
    this.clock = options.clock;
    this.lifecycle = options.lifecycle;
    this.expiryGraceMs = options.expiryGraceMs ?? DEFAULT_EXPIRY_GRACE_MS;
    this.supportedVersions = options.supportedVersions ?? ALL_VERSIONS;
    this.newId = options.newId ?? (() => this.store.newId());
  }

  register(req: IncomingRequest): OutgoingResponse {
    const params = parseRegisterRequest(req.query, req.payload, this.supportedVersions);
    const now = this.clock.now();
    const id = this.newId();
    // One factory, one property order: every registration shares one hidden class.
    const registration: Registration = {
      id,
      endpoint: params.endpoint,
      lifetimeSec: params.lifetimeSec,
      lwm2mVersion: params.lwm2mVersion,
      binding: params.binding,
      queueMode: params.queueMode,
      smsNumber: params.smsNumber,
      // Kept, not copied: a transport's remote is exactly { address, port } and nothing
      // changes it afterwards (UDP makes one per datagram; a DTLS session keeps one and
      // replaces it when the peer's address moves).
      address: req.remote,
      rootPath: params.links.rootPath,
      objectLinks: params.links.objectLinks,
      registeredAt: now,
      lastUpdateAt: now,
      expiresAt: now + params.lifetimeSec * 1000,
    };
    const replaced = this.store.add(registration);
    if (replaced) this.lifecycle.onGone(replaced, 'replaced');
    this.events.emit('registered', replaced ? { registration, replaced } : { registration });
    this.lifecycle.onRegistrationMessage(registration);
    return { code: CoapCode.Created, locationPath: ['rd', id] };
  }

  update(id: string, req: IncomingRequest): OutgoingResponse {
    const previous = this.store.getById(id);
    if (!previous) return notFound(`unknown registration id "${id}"`);
    const changes = parseUpdateRequest(req.query, req.payload, previous.lwm2mVersion);
    const now = this.clock.now();
    const lifetimeSec = changes.lifetimeSec ?? previous.lifetimeSec;
    const sameAddress = previous.address.address === req.remote.address && previous.address.port === req.remote.port;
    const registration: Registration = {
      id,
      endpoint: previous.endpoint,
      lifetimeSec,
      lwm2mVersion: previous.lwm2mVersion,
      binding: changes.binding ?? previous.binding,
      queueMode: changes.queueMode ?? previous.queueMode,
      smsNumber: changes.smsNumber ?? previous.smsNumber,
      address: sameAddress ? previous.address : { address: req.remote.address, port: req.remote.port },
      rootPath: changes.links?.rootPath ?? previous.rootPath,
      objectLinks: changes.links?.objectLinks ?? previous.objectLinks,
      registeredAt: previous.registeredAt,
      lastUpdateAt: now,
      expiresAt: now + lifetimeSec * 1000,
    };
    this.store.update(registration);
    this.events.emit('updated', { registration, previous });
    this.lifecycle.onRegistrationMessage(registration);
    return { code: CoapCode.Changed };
  }

  deregister(id: string): OutgoingResponse {
    const registration = this.store.remove(id);
    if (!registration) return notFound(`unknown registration id "${id}"`);
    this.lifecycle.onGone(registration, 'deregistered');
    this.events.emit('deregistered', { registration });
    return { code: CoapCode.Deleted };
  }

  /** Drops registrations whose lifetime + grace has passed. */
  sweep(now: number): void {
    for (const registration of this.store.removeExpired(now - this.expiryGraceMs)) {
      this.lifecycle.onGone(registration, 'expired');
      this.events.emit('expired', { registration });
    }
  }
}

function notFound(reason: string): OutgoingResponse {
  return textResponse(CoapCode.NotFound, reason);
}

export function textResponse(code: number, reason: string): OutgoingResponse {
  return { code, payload: Buffer.from(reason, 'utf8'), contentFormat: 0 };
}

export { RegistrationRequestError };
