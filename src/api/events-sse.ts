/**
 * GET /api/events (and Leshan's /api/event): server-sent events of the LwM2M services.
 * Event names are Leshan's (REGISTRATION, UPDATED, DEREGISTRATION, AWAKE, SLEEPING,
 * NOTIFICATION, SEND) plus EXPIRED and the bootstrap server's BOOTSTRAP_STARTED,
 * BOOTSTRAP_FINISHED, BOOTSTRAP_FAILED and BOOTSTRAP_REJECTED, and QUEUED_REQUEST (how a request queued
 * before a restart ended); data is one line of JSON. `?ep=` keeps one device's
 * events only.
 *
 * One hub per API: it subscribes to the services while at least one stream is open and
 * unsubscribes when the last one closes, serializes each event once for every stream, and
 * keeps the idle connections (and proxies) alive with a comment line every 15 s.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Logger } from '../util/logger.js';
import type { LwM2mNode, TimestampedNode } from '../lwm2m/node.js';
import type { Lwm2mEventMap, Lwm2mEvents, NotificationEvent } from '../lwm2m/server/events.js';
import type { Registration } from '../lwm2m/server/registration.js';
import { nodeToJson, nodesToJson } from './node-json.js';
import { formatAddress, linkToJson } from './registration-json.js';

export type SseEventName =
  | 'REGISTRATION'
  | 'UPDATED'
  | 'DEREGISTRATION'
  | 'EXPIRED'
  | 'AWAKE'
  | 'SLEEPING'
  | 'NOTIFICATION'
  | 'SEND'
  | 'BOOTSTRAP_STARTED'
  | 'BOOTSTRAP_FINISHED'
  | 'BOOTSTRAP_FAILED'
  | 'BOOTSTRAP_REJECTED'
  | 'FIRMWARE'
  | 'FIRMWARE_PROGRESS'
  | 'QUEUED_REQUEST'
  | 'CAMPAIGN'
  | 'STAGE'
  | 'HALTED';

/**
 * Events from a part other than the LwM2M server (firmware deliveries, campaigns): it calls
 * `publish` for each one and returns how to stop. Subscribed only while a stream is open.
 */
export type SseEventSource = (publish: (name: SseEventName, endpoint: string, data: unknown) => void) => () => void;

interface Stream {
  res: ServerResponse;
  endpoint: string | undefined;
}

/** A stream whose client reads slower than this much buffered output is dropped. */
const MAX_BUFFERED_BYTES = 1 << 20;

export interface SseHubOptions {
  events: Lwm2mEvents;
  /**
   * The registration as the API shows it. `justHeard`: the event is the device's own
   * register/update, so it is awake even if the queue has not caught up yet.
   */
  registrationJson: (registration: Registration, justHeard?: boolean) => Record<string, unknown>;
  logger: Logger;
  heartbeatMs?: number;
  sources?: SseEventSource[];
}

export class SseHub {
  private readonly streams = new Set<Stream>();
  private unsubscribe: (() => void)[] = [];
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly options: SseHubOptions) {}

  get streamCount(): number {
    return this.streams.size;
  }

  open(res: ServerResponse, endpoint: string | undefined): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Sends the headers now, so the client sees the stream open before the first event.
    res.write(': connected\n\n');
    const stream: Stream = { res, endpoint };
    this.streams.add(stream);
    if (this.streams.size === 1) this.start();
    res.on('close', () => this.close(stream));
  }

  /** Ends every open stream (server shutdown). */
  closeAll(): void {
    for (const stream of [...this.streams]) stream.res.end();
    for (const stream of [...this.streams]) this.close(stream);
  }

  private close(stream: Stream): void {
    if (!this.streams.delete(stream)) return;
    if (this.streams.size === 0) this.stop();
  }

  private start(): void {
    const { events, registrationJson } = this.options;
    const on = <K extends keyof Lwm2mEventMap>(name: K, listener: (event: Lwm2mEventMap[K]) => void): void => {
      this.unsubscribe.push(events.on(name, listener));
    };
    on('registered', ({ registration }) =>
      this.publish('REGISTRATION', registration.endpoint, registrationJson(registration, true)),
    );
    on('updated', ({ registration }) =>
      this.publish('UPDATED', registration.endpoint, {
        registration: registrationJson(registration, true),
        update: updateJson(registration),
      }),
    );
    on('deregistered', ({ registration }) =>
      this.publish('DEREGISTRATION', registration.endpoint, registrationJson(registration)),
    );
    on('expired', ({ registration }) => this.publish('EXPIRED', registration.endpoint, registrationJson(registration)));
    on('awake', ({ endpoint }) => this.publish('AWAKE', endpoint, { ep: endpoint }));
    on('sleeping', ({ endpoint }) => this.publish('SLEEPING', endpoint, { ep: endpoint }));
    on('notification', (event) => this.publish('NOTIFICATION', event.endpoint, notificationJson(event)));
    on('send', ({ endpoint, nodes }) => this.publish('SEND', endpoint, { ep: endpoint, val: mostRecentNodesJson(nodes) }));
    // A request queued before a restart: its HTTP caller is gone, so its outcome is shown here.
    on('queuedRequestCompleted', (event) => this.publish('QUEUED_REQUEST', event.endpoint, { ep: event.endpoint, ...event }));
    on('bootstrapStarted', (event) => this.publish('BOOTSTRAP_STARTED', event.endpoint, { ep: event.endpoint, ...event }));
    on('bootstrapFinished', (event) => this.publish('BOOTSTRAP_FINISHED', event.endpoint, { ep: event.endpoint, ...event }));
    on('bootstrapFailed', (event) => this.publish('BOOTSTRAP_FAILED', event.endpoint, { ep: event.endpoint, ...event }));
    // No ep at all is still worth showing to a stream that watches every device.
    on('bootstrapRejected', (event) => this.publish('BOOTSTRAP_REJECTED', event.endpoint ?? '', { ep: event.endpoint ?? null, ...event }));
    for (const source of this.options.sources ?? []) {
      this.unsubscribe.push(source((name, endpoint, data) => this.publish(name, endpoint, data)));
    }
    const heartbeatMs = this.options.heartbeatMs ?? 15_000;
    this.heartbeat = setInterval(() => this.writeAll(': heartbeat\n\n', undefined), heartbeatMs);
    this.heartbeat.unref();
  }

  private stop(): void {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private publish(name: SseEventName, endpoint: string, data: unknown): void {
    this.writeAll(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`, endpoint);
  }

  private writeAll(frame: string, endpoint: string | undefined): void {
    for (const stream of this.streams) {
      if (endpoint !== undefined && stream.endpoint !== undefined && stream.endpoint !== endpoint) continue;
      if (stream.res.writableLength > MAX_BUFFERED_BYTES) {
        this.options.logger.warn({ endpoint: stream.endpoint }, 'event stream client too slow, closing it');
        stream.res.destroy();
        this.close(stream);
        continue;
      }
      stream.res.write(frame);
    }
  }
}

function updateJson(registration: Registration): Record<string, unknown> {
  return {
    registrationId: registration.id,
    address: formatAddress(registration.address),
    lifeTimeInSec: registration.lifetimeSec,
    bindingMode: registration.binding,
    ...(registration.smsNumber !== undefined ? { smsNumber: registration.smsNumber } : {}),
    objectLinks: registration.objectLinks.map(linkToJson),
  };
}

/** Leshan's notification data: {ep, kind:"single", res, val} or {ep, kind:"composite", val, paths}. */
export function notificationJson(event: NotificationEvent): Record<string, unknown> {
  if (event.nodes !== undefined || event.path.includes(',')) {
    return {
      ep: event.endpoint,
      kind: 'composite',
      ...(event.nodes !== undefined ? { val: nodesToJson(event.nodes) } : {}),
      paths: event.path.split(','),
      ...(event.error !== undefined ? { error: event.error.message } : {}),
    };
  }
  return {
    ep: event.endpoint,
    kind: 'single',
    res: event.path,
    ...(event.node !== undefined ? { val: nodeToJson(event.node) } : {}),
    ...(event.error !== undefined ? { error: event.error.message } : {}),
  };
}

/** Send data as Leshan shows it: the most recent value of each path. */
function mostRecentNodesJson(nodes: readonly TimestampedNode[]): Record<string, unknown> {
  const latest = new Map<string, { timestamp: number; node: LwM2mNode }>();
  for (const { path, node, timestamp } of nodes) {
    const time = timestamp ?? Number.POSITIVE_INFINITY;
    const current = latest.get(path);
    if (current === undefined || time >= current.timestamp) latest.set(path, { timestamp: time, node });
  }
  return nodesToJson(new Map([...latest].map(([path, { node }]) => [path, node])));
}

export function registerEventRoutes(app: FastifyInstance, hub: SseHub): void {
  const handler = async (request: FastifyRequest<{ Querystring: { ep?: string } }>, reply: FastifyReply): Promise<void> => {
    // The stream is written by the hub, outside fastify's reply cycle.
    reply.hijack();
    const endpoint = typeof request.query.ep === 'string' && request.query.ep !== '' ? request.query.ep : undefined;
    hub.open(reply.raw, endpoint);
  };
  // No automatic HEAD route: a HEAD must not open a stream.
  app.get('/api/events', { exposeHeadRoute: false }, handler);
  app.get('/api/event', { exposeHeadRoute: false }, handler);
  // preClose: the HTTP server waits for open connections, so end the streams before it closes.
  app.addHook('preClose', async () => hub.closeAll());
}
