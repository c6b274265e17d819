import type { Clock, TimerHandle } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { OutgoingRequest } from '../../coap/types.js';
import { DeviceTimeoutError, QueueTimeoutError, UnknownDeviceError } from './errors.js';
import type { Lwm2mEvents } from './events.js';
import { nextPresence, type PresenceInput, type PresenceState } from './presence.js';
import type { Registration } from './registration.js';
import { persistableDescription, type QueuePersistence } from './queue-persistence.js';

/** MAX_TRANSMIT_WAIT (RFC 7252): how long a device stays awake after a registration message by default. */
export const DEFAULT_AWAKE_TIME_MS = 93_000;

/** The data of a request, without callbacks, so a store can persist a queue and replay it after a restart. */
export type SerializableRequest = Pick<
  OutgoingRequest,
  'method' | 'path' | 'query' | 'payload' | 'contentFormat' | 'accept' | 'options' | 'confirmable'
>;

export interface QueuedRequestDescription {
  kind: 'request' | 'observe';
  endpoint: string;
  /** The LwM2M path(s) addressed, for logs and listings ("/5/0/1"). */
  target: string;
  request: SerializableRequest;
  queuedAt: number;
  /** queuedAt + the caller's timeout; undefined = wait until the device wakes or leaves. */
  deadline: number | undefined;
  /** Meaningful only to this process (an observation cancel): never persisted across restarts. */
  ephemeral?: true;
}

/** What waiting requests get when the server shuts down; persisted ones come back at the next start. */
export class QueueClosedError extends UnknownDeviceError {
  override readonly name: string = 'QueueClosedError';
  constructor(endpoint: string) {
    super(endpoint, 'server closed');
  }
}

/** Sends one request to the device at its current address; `remainingMs` is what is left of the caller's timeout. */
export type RequestRunner<T> = (registration: Registration, remainingMs: number | undefined) => Promise<T>;

interface QueuedItem {
  description: QueuedRequestDescription;
  run: RequestRunner<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: TimerHandle | undefined;
  settled: boolean;
  /** The persistence's sequence number, once stored (only requests that had to wait are). */
  stored?: Promise<number | undefined>;
}

interface DeviceQueue {
  state: PresenceState;
  awakeUntil: number;
  items: QueuedItem[];
  inFlight: boolean;
}

export interface RequestQueueOptions {
  clock: Clock;
  events: Lwm2mEvents;
  /** The current registration of an endpoint (its address may change while requests wait). */
  lookup: (endpoint: string) => Registration | undefined;
  awakeTimeMs?: number;
  logger?: Logger;
  /** Keeps waiting requests across restarts (see queue-persistence.ts). */
  persistence?: QueuePersistence;
}

/**
 * Requests to queue-mode devices: one FIFO per device, sent one at a time while the
 * device is awake. State exists only for queue-mode devices that are awake or have
 * requests waiting; everyone else is sent to directly. The awake window is checked by
 * `tick` (driven by the server's one sweep timer), not by a timer per device.
 */
export class RequestQueue {
  private readonly queues = new Map<string, DeviceQueue>();
  private readonly clock: Clock;
  private readonly events: Lwm2mEvents;
  private readonly lookup: (endpoint: string) => Registration | undefined;
  private readonly awakeTimeMs: number;
  private readonly logger: Logger | undefined;
  private readonly persistence: QueuePersistence | undefined;

  constructor(options: RequestQueueOptions) {
    this.clock = options.clock;
    this.events = options.events;
    this.lookup = options.lookup;
    this.awakeTimeMs = options.awakeTimeMs ?? DEFAULT_AWAKE_TIME_MS;
    this.logger = options.logger;
    this.persistence = options.persistence;
  }

  /** 'awake' | 'sleeping' for a registered queue-mode device; undefined otherwise. */
  state(endpoint: string): PresenceState | undefined {
    const registration = this.lookup(endpoint);
    if (!registration?.queueMode) return undefined;
    return this.queues.get(endpoint)?.state ?? 'sleeping';
  }

  /** The requests waiting for an endpoint, oldest first (the one in flight is not listed). */
  pending(endpoint: string): QueuedRequestDescription[] {
    return this.queues.get(endpoint)?.items.map((item) => item.description) ?? [];
  }

  submit<T>(
    registration: Registration,
    description: Omit<QueuedRequestDescription, 'queuedAt' | 'deadline' | 'endpoint'>,
    timeoutMs: number | undefined,
    run: RequestRunner<T>,
  ): Promise<T> {
    const endpoint = registration.endpoint;
    if (!registration.queueMode && !this.queues.has(endpoint)) return run(registration, timeoutMs);

    const now = this.clock.now();
    const full: QueuedRequestDescription = {
      ...description,
      endpoint,
      queuedAt: now,
      deadline: timeoutMs === undefined ? undefined : now + timeoutMs,
    };
    const queue = this.queueOf(endpoint);
    return new Promise<T>((resolve, reject) => {
      const item: QueuedItem = {
        description: full,
        run: run as RequestRunner<unknown>,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: undefined,
        settled: false,
      };
      if (timeoutMs !== undefined) {
        item.timer = this.clock.setTimeout(() => this.timeOut(endpoint, item, timeoutMs), timeoutMs);
      }
      queue.items.push(item);
      if (queue.state === 'sleeping') {
        this.events.emit('requestQueued', { endpoint, request: full, queueLength: queue.items.length });
      }
      this.drain(endpoint);
      if (queue.items.includes(item)) this.persist(item);
    });
  }

  /**
   * Puts a request stored before a restart back at the end of its device's queue (call in
   * the stored order). Resolves with what `run` resolves; its original caller is gone.
   */
  restore<T>(description: QueuedRequestDescription, seq: number, run: RequestRunner<T>): Promise<T> {
    const endpoint = description.endpoint;
    const queue = this.queueOf(endpoint);
    if (!this.lookup(endpoint)?.queueMode) {
      // Left queue mode while we were down: nothing will wake it, so it is sent to at once.
      queue.state = 'awake';
      queue.awakeUntil = Infinity;
    }
    return new Promise<T>((resolve, reject) => {
      const item: QueuedItem = {
        description,
        run: run as RequestRunner<unknown>,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: undefined,
        settled: false,
        stored: Promise.resolve(seq),
      };
      if (description.deadline !== undefined) {
        const remaining = Math.max(0, description.deadline - this.clock.now());
        item.timer = this.clock.setTimeout(() => this.timeOut(endpoint, item, remaining), remaining);
      }
      queue.items.push(item);
      this.drain(endpoint);
    });
  }

  /** A register or update arrived from the device. */
  registrationMessage(registration: Registration): void {
    // Most fleets have no queue-mode device: skip hashing every registering name for nothing.
    if (!registration.queueMode && this.queues.size === 0) return;
    const endpoint = registration.endpoint;
    const existing = this.queues.get(endpoint);
    if (!registration.queueMode) {
      // Left queue mode: whatever waits goes out now, and no presence is tracked any more.
      if (existing) {
        existing.state = 'awake';
        existing.awakeUntil = Infinity;
        this.drain(endpoint);
      }
      return;
    }
    const queue = existing ?? this.queueOf(endpoint);
    const wasAwake = existing !== undefined && existing.state === 'awake';
    this.transition(endpoint, queue, 'registrationMessage');
    queue.awakeUntil = this.clock.now() + this.awakeTimeMs;
    if (!wasAwake) this.events.emit('awake', { endpoint });
    this.drain(endpoint);
  }

  /** The device deregistered or expired: whatever waits for it fails. */
  removed(endpoint: string, reason: string): void {
    const queue = this.queues.get(endpoint);
    if (!queue) return;
    // One by one, each after its own append: a store whose appends may land late (a remote one) keeps no orphans.
    for (const item of queue.items) this.unpersist(item);
    this.queues.delete(endpoint);
    for (const item of queue.items) this.settle(item, new UnknownDeviceError(endpoint, `device "${endpoint}" ${reason}`));
    queue.items = [];
  }

  /** Puts devices whose awake window has passed to sleep. Called by the server's sweep. */
  tick(now: number): void {
    for (const [endpoint, queue] of this.queues) {
      if (queue.state === 'awake' && !queue.inFlight && now >= queue.awakeUntil) {
        this.transition(endpoint, queue, 'windowElapsed');
      }
      this.dropIfIdle(endpoint, queue);
    }
  }

  /** Fails everything that waits (server shutdown). */
  close(): void {
    for (const [endpoint, queue] of this.queues) {
      for (const item of queue.items) this.settle(item, new QueueClosedError(endpoint));
    }
    this.queues.clear();
  }

  private queueOf(endpoint: string): DeviceQueue {
    let queue = this.queues.get(endpoint);
    if (!queue) {
      queue = { state: 'sleeping', awakeUntil: 0, items: [], inFlight: false };
      this.queues.set(endpoint, queue);
    }
    return queue;
  }

  private transition(endpoint: string, queue: DeviceQueue, input: PresenceInput): void {
    const before = queue.state;
    queue.state = nextPresence(before, input);
    if (before === 'awake' && queue.state === 'sleeping') this.events.emit('sleeping', { endpoint });
  }

  private drain(endpoint: string): void {
    const queue = this.queues.get(endpoint);
    if (!queue || queue.inFlight || queue.state !== 'awake') return;
    const item = queue.items.shift();
    if (!item) {
      this.dropIfIdle(endpoint, queue);
      return;
    }
    // At most once: forgotten as it leaves, so a crash in flight never sends it twice.
    this.unpersist(item);
    const registration = this.lookup(endpoint);
    if (!registration) {
      this.settle(item, new UnknownDeviceError(endpoint));
      this.drain(endpoint);
      return;
    }
    const deadline = item.description.deadline;
    const remaining = deadline === undefined ? undefined : deadline - this.clock.now();
    queue.inFlight = true;
    let outcome: Promise<unknown>;
    try {
      outcome = item.run(registration, remaining);
    } catch (err) {
      outcome = Promise.reject(err);
    }
    outcome.then(
      (value) => {
        this.settle(item, undefined, value);
        this.finish(endpoint, queue, 'answered');
      },
      (err: unknown) => {
        this.settle(item, err);
        this.finish(endpoint, queue, err instanceof DeviceTimeoutError ? 'noAnswer' : 'answered');
      },
    );
  }

  private finish(endpoint: string, queue: DeviceQueue, input: PresenceInput): void {
    queue.inFlight = false;
    if (this.queues.get(endpoint) !== queue) return; // removed meanwhile
    const now = this.clock.now();
    if (input === 'answered' && queue.state === 'awake' && queue.awakeUntil !== Infinity) {
      queue.awakeUntil = Math.max(queue.awakeUntil, now + this.awakeTimeMs);
    }
    this.transition(endpoint, queue, input);
    if (queue.state === 'awake' && now >= queue.awakeUntil) this.transition(endpoint, queue, 'windowElapsed');
    if (input === 'noAnswer') {
      this.logger?.debug({ endpoint, waiting: queue.items.length }, 'queue-mode device stopped answering; back to sleep');
    }
    this.drain(endpoint);
    this.dropIfIdle(endpoint, queue);
  }

  private timeOut(endpoint: string, item: QueuedItem, timeoutMs: number): void {
    item.timer = undefined;
    if (item.settled) return;
    const queue = this.queues.get(endpoint);
    const index = queue ? queue.items.indexOf(item) : -1;
    if (queue && index >= 0) {
      queue.items.splice(index, 1);
      this.unpersist(item);
      this.settle(item, new QueueTimeoutError(endpoint, item.description.target, timeoutMs));
      this.dropIfIdle(endpoint, queue);
    } else {
      // Already sent and still unanswered: the caller's time is up; the exchange finishes on its own.
      this.settle(item, new DeviceTimeoutError(endpoint, item.description.target, timeoutMs));
    }
  }

  private settle(item: QueuedItem, err: unknown, value?: unknown): void {
    if (item.settled) return;
    item.settled = true;
    if (item.timer) {
      this.clock.clearTimeout(item.timer);
      item.timer = undefined;
    }
    if (err !== undefined) item.reject(err);
    else item.resolve(value);
  }

  private persist(item: QueuedItem): void {
    const description = this.persistence ? persistableDescription(item.description) : undefined;
    if (!this.persistence || !description) return;
    item.stored = this.persistence.append(description).catch((err: unknown) => {
      this.logger?.error({ err, endpoint: description.endpoint }, 'could not store a queued request');
      return undefined;
    });
  }

  private unpersist(item: QueuedItem): void {
    const persistence = this.persistence;
    if (!persistence || !item.stored) return;
    item.stored
      .then((seq) => (seq === undefined ? false : persistence.remove(seq)))
      .catch((err: unknown) => this.logger?.error({ err, endpoint: item.description.endpoint }, 'could not forget a stored queued request'));
  }

  private dropIfIdle(endpoint: string, queue: DeviceQueue): void {
    if (queue.inFlight || queue.items.length > 0) return;
    const registration = this.lookup(endpoint);
    // A sleeping device with nothing waiting needs no state: state() reports it asleep.
    if (queue.state === 'sleeping' || !registration?.queueMode) this.queues.delete(endpoint);
  }
}
