/**
 * Requests waiting for sleeping queue-mode devices, kept across restarts (kill -9 included).
 *
 * Semantics, on purpose at-most-once: a request is stored when it has to wait, and forgotten
 * the moment it is handed to the device (or times out, or its device leaves). A crash while a
 * request is in flight loses it rather than risk executing it twice on the device.
 *
 * After a restart the HTTP caller that queued a request is gone, so nobody awaits its answer:
 * a restored request reports how it ended as a `queuedRequestCompleted` event (QUEUED_REQUEST on
 * /api/events) and, through `recordOutcome`, in the audit log.
 *
 * The store's QueuedRequestStore satisfies QueuePersistence structurally; the services never
 * see the store itself.
 */
import { CoapTimeoutError, formatCode, type CoapMethod, type OutgoingRequest } from '../../coap/types.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { CoapRequester } from './coap-requester.js';
import { DeviceTimeoutError } from './errors.js';
import type { Lwm2mEvents } from './events.js';
import type { Registration } from './registration.js';
import { QueueClosedError, type QueuedRequestDescription, type RequestQueue, type SerializableRequest } from './request-queue.js';

export interface PersistedQueuedRequest extends QueuedRequestDescription {
  /** Assigned by the persistence, increasing: the FIFO order. */
  seq: number;
}

export interface QueuePersistence {
  /** Appends to the endpoint's FIFO; returns the sequence number. */
  append(request: QueuedRequestDescription): Promise<number>;
  remove(seq: number): Promise<boolean>;
  removeEndpoint(endpoint: string): Promise<number>;
  /** Every endpoint that has requests waiting. */
  endpoints(): Promise<string[]>;
  /** The endpoint's requests, oldest first. */
  list(endpoint: string): Promise<PersistedQueuedRequest[]>;
  /** Where the end of a restored request is recorded for operators (the audit log). */
  recordOutcome?(event: QueuedRequestCompletedEvent): Promise<void>;
}

/** How a request restored after a restart ended (its original caller is gone). */
export interface QueuedRequestCompletedEvent {
  endpoint: string;
  /** The LwM2M path(s) addressed ("/5/0/1"). */
  path: string;
  method: CoapMethod;
  outcome: 'answered' | 'timedOut' | 'failed';
  /** The device's response code ("2.04") when it answered. */
  code?: string;
  /** Why it did not get an answer. */
  reason?: string;
  queuedAt: number;
}

/**
 * The description as it can be stored, or undefined when it cannot be replayed from data
 * alone: an observe needs the live notification callback of its caller, and an ephemeral
 * request (an observation cancel) is tied to state that dies with the process.
 */
export function persistableDescription(description: QueuedRequestDescription): QueuedRequestDescription | undefined {
  if (description.kind !== 'request' || description.ephemeral) return undefined;
  const { ephemeral: _ephemeral, request, ...rest } = description;
  return { ...rest, request: serializableRequest(request) };
}

/** Only the data fields: a caller may have passed callbacks (onProgress) the type does not show. */
function serializableRequest(request: SerializableRequest): SerializableRequest {
  const picked: SerializableRequest = { method: request.method };
  if (request.path !== undefined) picked.path = [...request.path];
  if (request.query !== undefined) picked.query = [...request.query];
  if (request.payload !== undefined) picked.payload = request.payload;
  if (request.contentFormat !== undefined) picked.contentFormat = request.contentFormat;
  if (request.accept !== undefined) picked.accept = request.accept;
  if (request.options !== undefined) picked.options = request.options.map((o) => ({ number: o.number, value: o.value }));
  if (request.confirmable !== undefined) picked.confirmable = request.confirmable;
  return picked;
}

interface AuditSink {
  append(entry: { at: number; actor: string; action: string; subject?: string; detail?: { [key: string]: string | number } }): Promise<number>;
}

/** The store's queued requests plus its audit log as one QueuePersistence. */
export function queuePersistenceWithAudit(requests: Omit<QueuePersistence, 'recordOutcome'>, audit: AuditSink, clock: Clock): QueuePersistence {
  return {
    append: (request) => requests.append(request),
    remove: (seq) => requests.remove(seq),
    removeEndpoint: (endpoint) => requests.removeEndpoint(endpoint),
    endpoints: () => requests.endpoints(),
    list: (endpoint) => requests.list(endpoint),
    recordOutcome: async (event) => {
      const detail: { [key: string]: string | number } = { path: event.path, method: event.method, outcome: event.outcome, queuedAt: event.queuedAt };
      if (event.code !== undefined) detail.code = event.code;
      if (event.reason !== undefined) detail.reason = event.reason;
      await audit.append({ at: clock.now(), actor: 'system', action: 'queuedRequest.completed', subject: event.endpoint, detail });
    },
  };
}

export interface RestoreQueuedRequestsOptions {
  persistence: QueuePersistence;
  queue: RequestQueue;
  lookup: (endpoint: string) => Registration | undefined;
  coap: CoapRequester;
  events: Lwm2mEvents;
  clock: Clock;
  logger?: Logger;
}

/**
 * Puts stored requests back into their devices' queues, oldest first, to go out when each
 * device next wakes. Requests of devices no longer registered, or past their deadline, end
 * here (reported like any other outcome). Returns how many went back into a queue.
 */
export async function restoreQueuedRequests(options: RestoreQueuedRequestsOptions): Promise<number> {
  const { persistence, queue, lookup, clock } = options;
  const report = (event: QueuedRequestCompletedEvent): void => {
    options.events.emit('queuedRequestCompleted', event);
    persistence.recordOutcome?.(event).catch((err: unknown) => options.logger?.error({ err, endpoint: event.endpoint }, 'could not record a queued request outcome'));
  };
  const base = (stored: PersistedQueuedRequest) => ({ endpoint: stored.endpoint, path: stored.target, method: stored.request.method, queuedAt: stored.queuedAt });

  let restored = 0;
  for (const endpoint of await persistence.endpoints()) {
    const stored = (await persistence.list(endpoint)).sort((a, b) => a.seq - b.seq);
    const registration = lookup(endpoint);
    if (!registration) {
      await persistence.removeEndpoint(endpoint);
      for (const request of stored) report({ ...base(request), outcome: 'failed', reason: `device "${endpoint}" is no longer registered` });
      continue;
    }
    for (const request of stored) {
      const now = clock.now();
      if (request.deadline !== undefined && request.deadline <= now) {
        await persistence.remove(request.seq);
        report({ ...base(request), outcome: 'timedOut', reason: 'its deadline passed while the server was down' });
        continue;
      }
      const { seq, ...description } = request;
      queue
        .restore(description, seq, (current, remainingMs) => sendRestored(options.coap, current, description, remainingMs))
        .then(
          (code) => report({ ...base(request), outcome: 'answered', code }),
          (err: unknown) => {
            // Shutdown: the request stays stored and comes back at the next start.
            if (err instanceof QueueClosedError) return;
            const timedOut = err instanceof DeviceTimeoutError;
            report({ ...base(request), outcome: timedOut ? 'timedOut' : 'failed', reason: err instanceof Error ? err.message : String(err) });
          },
        );
      restored++;
    }
  }
  if (restored > 0) options.logger?.info({ queuedRequests: restored }, 'queued requests restored');
  return restored;
}

/** Resolves with the device's response code ("2.04"); a CoAP timeout becomes DeviceTimeoutError so the queue puts the device back to sleep. */
async function sendRestored(
  coap: CoapRequester,
  registration: Registration,
  description: QueuedRequestDescription,
  remainingMs: number | undefined,
): Promise<string> {
  const outgoing: OutgoingRequest = { ...description.request };
  if (remainingMs !== undefined) outgoing.timeoutMs = Math.max(1, remainingMs);
  try {
    const response = await coap.request(registration.address, outgoing);
    return formatCode(response.code);
  } catch (err) {
    if (err instanceof CoapTimeoutError) throw new DeviceTimeoutError(registration.endpoint, description.target, remainingMs);
    throw err;
  }
}
