import type { Logger } from '../../util/logger.js';
import type { LwM2mNode, TimestampedNode } from '../node.js';
import type { Registration } from './registration.js';
import type { QueuedRequestDescription } from './request-queue.js';
import type { QueuedRequestCompletedEvent } from './queue-persistence.js';
import type { BootstrapEndedEvent, BootstrapRejectedEvent, BootstrapStartedEvent } from '../bootstrap/events.js';

export interface NotificationEvent {
  endpoint: string;
  observationId: string;
  /** The observed path ("/3/0/13"); for a composite observation the paths joined by ",". */
  path: string;
  /** Single-path observation: the decoded value. */
  node?: LwM2mNode;
  /** Composite observation: path → decoded value. */
  nodes?: Map<string, LwM2mNode>;
  /** Set when the payload could not be decoded; node/nodes are then absent. */
  error?: Error;
  payload: Buffer;
  contentFormat: number | undefined;
}

/** A device was refused because its credential does not match the endpoint it claimed. */
export interface SecurityViolationEvent {
  /** The endpoint name the device claimed (register) or the one of the registration it touched. */
  endpoint: string;
  reason: string;
  remote: { address: string; port: number };
  /** True when it came over CoAPS. */
  secure: boolean;
  /** The identity the transport authenticated (PSK identity, hex public key, certificate CN). */
  mode?: 'psk' | 'rpk' | 'x509';
  identity?: string;
  /** The LwM2M operation refused: register, update, deregister, send. */
  operation: string;
}

export interface Lwm2mEventMap {
  registered: { registration: Registration; replaced?: Registration };
  updated: { registration: Registration; previous: Registration };
  deregistered: { registration: Registration };
  expired: { registration: Registration };
  awake: { endpoint: string };
  sleeping: { endpoint: string };
  notification: NotificationEvent;
  send: { endpoint: string; registration: Registration; nodes: TimestampedNode[] };
  requestQueued: { endpoint: string; request: QueuedRequestDescription; queueLength: number };
  /** A request restored after a restart ended; its original caller is gone, so this is its only answer. */
  queuedRequestCompleted: QueuedRequestCompletedEvent;
  // The bootstrap server (src/lwm2m/bootstrap) shares this bus, so one event stream shows both.
  bootstrapStarted: BootstrapStartedEvent;
  bootstrapFinished: BootstrapEndedEvent;
  bootstrapFailed: BootstrapEndedEvent;
  bootstrapRejected: BootstrapRejectedEvent;
  securityViolation: SecurityViolationEvent;
}

export type Lwm2mEventName = keyof Lwm2mEventMap;
export type Lwm2mListener<K extends Lwm2mEventName> = (event: Lwm2mEventMap[K]) => void | Promise<void>;

/**
 * A typed event emitter whose listeners cannot hurt the server: a throw or a rejected
 * promise is logged and the remaining listeners still run.
 */
export class Lwm2mEvents {
  // Arrays replaced (never changed in place) on on/off: emit walks the one it finds without
  // copying it, and a listener added or removed meanwhile does not disturb that walk.
  private readonly listeners: { [K in Lwm2mEventName]?: readonly Lwm2mListener<K>[] } = {};

  constructor(private readonly logger?: Logger) {}

  /** Returns a function that removes the listener. */
  on<K extends Lwm2mEventName>(name: K, listener: Lwm2mListener<K>): () => void {
    const current = (this.listeners[name] ?? []) as readonly Lwm2mListener<K>[];
    // A listener added twice runs once, as with a Set.
    if (!current.includes(listener)) (this.listeners as Record<string, unknown>)[name] = [...current, listener];
    return () => this.off(name, listener);
  }

  off<K extends Lwm2mEventName>(name: K, listener: Lwm2mListener<K>): void {
    const current = this.listeners[name] as readonly Lwm2mListener<K>[] | undefined;
    if (current?.includes(listener)) (this.listeners as Record<string, unknown>)[name] = current.filter((l) => l !== listener);
  }

  listenerCount(name: Lwm2mEventName): number {
    return this.listeners[name]?.length ?? 0;
  }

  emit<K extends Lwm2mEventName>(name: K, event: Lwm2mEventMap[K]): void {
    const listeners = this.listeners[name] as readonly Lwm2mListener<K>[] | undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        const result = listener(event);
        if (result && typeof (result as Promise<void>).catch === 'function') {
          (result as Promise<void>).catch((err: unknown) => this.report(name, err));
        }
      } catch (err) {
        this.report(name, err);
      }
    }
  }

  private report(name: string, err: unknown): void {
    this.logger?.error({ err, event: name }, 'event listener failed');
  }
}
