import { CoapCode, type IncomingRequest, type OutgoingResponse } from '../../coap/types.js';
import { systemClock, type Clock, type TimerHandle } from '../../util/clock.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import type { ObjectModel } from '../model/types.js';
import type { CoapRequester } from './coap-requester.js';
import { DeviceClient } from './device-client.js';
import { Lwm2mEvents } from './events.js';
import type { PresenceState } from './presence.js';
import { RegistrationRequestError } from './registration-request.js';
import { RegistrationService, textResponse } from './registration-service.js';
import { MemoryRegistrationStore, type RegistrationStore } from './registration-store.js';
import type { Lwm2mVersion } from './registration.js';
import { RequestQueue, type QueuedRequestDescription } from './request-queue.js';
import { handleSend } from './send-handler.js';
import type { ObservationPersistence } from './observation-persistence.js';
import { restoreQueuedRequests, type QueuePersistence } from './queue-persistence.js';
import type { IncomingResponse } from '../../coap/types.js';

export interface Lwm2mServerOptions {
  coap: CoapRequester;
  model: ObjectModel;
  clock?: Clock;
  logger?: Logger;
  store?: RegistrationStore;
  /** Queue mode: how long a device listens after a register/update (default 93 s). */
  awakeTimeMs?: number;
  /** Extra time after a lifetime before a registration expires (default 15 s). */
  expiryGraceMs?: number;
  supportedVersions?: readonly Lwm2mVersion[];
  /** Period of the one sweep timer that expires registrations and ends awake windows (default 1 s). */
  sweepIntervalMs?: number;
  /** Keeps observations across restarts; call restore() before start(). */
  observationPersistence?: ObservationPersistence;
  /** Keeps requests waiting for sleeping devices across restarts; call restore() before start(). */
  queuePersistence?: QueuePersistence;
}

export const DEFAULT_SWEEP_INTERVAL_MS = 1000;

/**
 * The LwM2M server role, free of sockets: give it decoded CoAP requests from devices
 * (`handleRequest`) and a CoapRequester to reach them; it keeps registrations, runs
 * queue mode, and offers device management through `devices`.
 */
export class Lwm2mServer {
  readonly registrations: RegistrationStore;
  readonly events: Lwm2mEvents;
  readonly devices: DeviceClient;
  readonly queue: RequestQueue;
  private readonly service: RegistrationService;
  private readonly model: ObjectModel;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly sweepIntervalMs: number;
  private sweepTimer: TimerHandle | undefined;
  private closed = false;
  private readonly queuePersistence: QueuePersistence | undefined;
  private readonly coap: CoapRequester;

  constructor(options: Lwm2mServerOptions) {
    this.queuePersistence = options.queuePersistence;
    this.coap = options.coap;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.model = options.model;
    this.registrations = options.store ?? new MemoryRegistrationStore();
    this.events = new Lwm2mEvents(this.logger);
    this.sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.queue = new RequestQueue({
      clock: this.clock,
      events: this.events,
      lookup: (endpoint) => this.registrations.get(endpoint),
      awakeTimeMs: options.awakeTimeMs,
      logger: this.logger,
      persistence: options.queuePersistence,
    });
    this.devices = new DeviceClient({
      coap: options.coap,
      model: options.model,
      store: this.registrations,
      queue: this.queue,
      events: this.events,
      clock: this.clock,
      logger: this.logger,
      observationPersistence: options.observationPersistence,
    });
    this.service = new RegistrationService({
      store: this.registrations,
      events: this.events,
      clock: this.clock,
      expiryGraceMs: options.expiryGraceMs,
      supportedVersions: options.supportedVersions,
      lifecycle: {
        onRegistrationMessage: (registration) => this.queue.registrationMessage(registration),
        onGone: (registration, reason) => {
          this.devices.forgetDevice(registration.endpoint);
          // A replacement keeps the endpoint's queue: its requests go to the new registration.
          if (reason !== 'replaced') this.queue.removed(registration.endpoint, reason);
        },
      },
    });
  }

  /** Brings back what was persisted (observations, queued requests); returns how many observations. */
  async restore(): Promise<number> {
    const observations = await this.devices.restoreObservations();
    if (this.queuePersistence) {
      await restoreQueuedRequests({
        persistence: this.queuePersistence,
        queue: this.queue,
        lookup: (endpoint) => this.registrations.get(endpoint),
        coap: this.coap,
        events: this.events,
        clock: this.clock,
        logger: this.logger,
      });
    }
    return observations;
  }

  /** Wire to the CoAP endpoint's onUnknownNotification: routes notifications of restored observations. */
  acceptRestoredNotification(notification: IncomingResponse): 'keep' | 'reject' {
    return this.devices.acceptRestoredNotification(notification);
  }

  /** Starts the periodic sweep (expiry, end of awake windows). */
  start(): void {
    if (this.sweepTimer || this.closed) return;
    // A store restored after a restart may hold devices whose lifetime ran out while we were
    // down: they expire now (with their events), not a sweep interval later.
    this.sweep();
    this.scheduleSweep();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.queue.close();
  }

  /** 'awake' | 'sleeping' for a registered queue-mode device, undefined otherwise. */
  presence(endpoint: string): PresenceState | undefined {
    return this.queue.state(endpoint);
  }

  queuedRequests(endpoint: string): QueuedRequestDescription[] {
    return this.queue.pending(endpoint);
  }

  /** Runs one sweep now (the timer calls this; tests and tools may too). */
  sweep(): void {
    const now = this.clock.now();
    this.service.sweep(now);
    this.queue.tick(now);
  }

  /**
   * Synchronous on purpose: every route answers from memory, and a plain value lets the
   * CoAP endpoint answer at once, without a promise and an ack-delay timer per message.
   */
  handleRequest(req: IncomingRequest): OutgoingResponse {
    try {
      return this.route(req);
    } catch (err) {
      if (err instanceof RegistrationRequestError) return textResponse(err.code, err.reason);
      this.logger.error({ err, path: req.path, method: req.method }, 'LwM2M request handler failed');
      return textResponse(CoapCode.InternalServerError, 'internal error');
    }
  }

  private route(req: IncomingRequest): OutgoingResponse {
    const [first, second, ...rest] = req.path;
    if (first === 'rd' && rest.length === 0) {
      if (second === undefined) {
        if (req.method === 'POST') return this.service.register(req);
        return methodNotAllowed(req, 'POST');
      }
      if (req.method === 'POST') return this.service.update(second, req);
      if (req.method === 'DELETE') return this.service.deregister(second);
      return methodNotAllowed(req, 'POST or DELETE');
    }
    if (first === 'dp' && second === undefined) {
      if (req.method === 'POST') return handleSend(req, this.registrations, this.model, this.events);
      return methodNotAllowed(req, 'POST');
    }
    return textResponse(CoapCode.NotFound, `no resource /${req.path.join('/')} on this LwM2M server`);
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      if (this.closed) return;
      try {
        this.sweep();
      } catch (err) {
        this.logger.error({ err }, 'registration sweep failed');
      }
      this.scheduleSweep();
    }, this.sweepIntervalMs);
  }
}

function methodNotAllowed(req: IncomingRequest, allowed: string): OutgoingResponse {
  return textResponse(CoapCode.MethodNotAllowed, `${req.method} not allowed on /${req.path.join('/')} (use ${allowed})`);
}
