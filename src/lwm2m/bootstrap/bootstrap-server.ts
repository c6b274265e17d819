/**
 * The LwM2M bootstrap server role, free of sockets: give it decoded CoAP requests from
 * devices (`handleRequest`) and a CoapRequester to reach them. A client-initiated
 * bootstrap (`POST /bs?ep=…&pct=…`) is answered 2.04 when the endpoint has a
 * configuration, then a session writes it; unknown endpoints get 4.00 with the reason and
 * a `bootstrapRejected` event, so operators see unknown devices knocking.
 */
import { CoapCode, type IncomingRequest, type OutgoingResponse } from '../../coap/types.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import { ContentFormat } from '../formats/types.js';
import type { ObjectModel } from '../model/types.js';
import type { CoapRequester } from '../server/coap-requester.js';
import type { Lwm2mEvents } from '../server/events.js';
import type { AuditLog, BootstrapConfigStore, JsonObject } from '../../store/types.js';
import { BootstrapConfigError, parseBootstrapConfig } from './config.js';
import type { BootstrapEndedEvent } from './events.js';
import { BootstrapSession } from './session.js';
import type { SessionPhase } from './session-machine.js';

export interface BootstrapServerOptions {
  coap: CoapRequester;
  configs: Pick<BootstrapConfigStore, 'get'>;
  events: Lwm2mEvents;
  model: ObjectModel;
  /** Where outcomes are recorded; optional so unit tests can leave it out. */
  audit?: AuditLog;
  clock?: Clock;
  logger?: Logger;
  /** Per device request, unless the configuration says otherwise (default: the CoAP budget). */
  requestTimeoutMs?: number;
}

/** What the API shows about an endpoint's current or last session. */
export interface BootstrapSessionStatus {
  endpoint: string;
  phase: SessionPhase;
  address: string;
  startedAt: number;
  /** Present once the session ended. */
  outcome?: BootstrapEndedEvent;
}

/** Kept so operators can ask how the last bootstrap of a device went; bounded against floods. */
const MAX_REMEMBERED_OUTCOMES = 10_000;

export class BootstrapServer {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly live = new Map<string, { session: BootstrapSession; done: Promise<BootstrapEndedEvent> }>();
  private readonly outcomes = new Map<string, BootstrapEndedEvent>();
  private closed = false;

  constructor(private readonly options: BootstrapServerOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  async handleRequest(req: IncomingRequest): Promise<OutgoingResponse> {
    try {
      return await this.route(req);
    } catch (err) {
      this.logger.error({ err, path: req.path }, 'bootstrap request handler failed');
      return text(CoapCode.InternalServerError, 'internal error');
    }
  }

  /** The current session of an endpoint, else the outcome of its last one. */
  status(endpoint: string): BootstrapSessionStatus | undefined {
    const live = this.live.get(endpoint);
    if (live) {
      const { session } = live;
      return { endpoint, phase: session.state.phase, address: `${session.remote.address}:${session.remote.port}`, startedAt: session.startedAt };
    }
    const outcome = this.outcomes.get(endpoint);
    if (!outcome) return undefined;
    return { endpoint, phase: outcome.result, address: outcome.address, startedAt: outcome.startedAt, outcome };
  }

  /** Resolves when the endpoint's running session ends (immediately with undefined when none runs). */
  whenSettled(endpoint: string): Promise<BootstrapEndedEvent | undefined> {
    return this.live.get(endpoint)?.done ?? Promise.resolve(undefined);
  }

  /** Stops every session and waits for their outcomes to be recorded. */
  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.live.values()];
    for (const { session } of running) session.stop('closed');
    await Promise.all(running.map((r) => r.done));
  }

  private async route(req: IncomingRequest): Promise<OutgoingResponse> {
    if (req.path.length !== 1 || req.path[0] !== 'bs') {
      return text(CoapCode.NotFound, `no resource /${req.path.join('/')} on this bootstrap server (devices POST /bs?ep=<name>)`);
    }
    if (req.method !== 'POST') return text(CoapCode.MethodNotAllowed, `${req.method} not allowed on /bs (use POST)`);
    const address = `${req.remote.address}:${req.remote.port}`;
    const params = queryParams(req.query);
    const endpoint = params.get('ep');
    if (endpoint === undefined || endpoint === '') return this.reject(undefined, address, 'bootstrap request needs ep=<endpoint name>');
    const pctText = params.get('pct');
    if (pctText !== undefined && (!/^\d{1,5}$/.test(pctText) || Number(pctText) > 65535)) {
      return this.reject(endpoint, address, `pct must be a content format number, got "${pctText}"`);
    }
    if (this.closed) return text(CoapCode.ServiceUnavailable, 'bootstrap server is shutting down');

    const stored = await this.options.configs.get(endpoint);
    if (!stored) return this.reject(endpoint, address, `no bootstrap configuration for endpoint "${endpoint}"`);
    let config;
    try {
      config = parseBootstrapConfig(stored as JsonObject);
    } catch (err) {
      if (!(err instanceof BootstrapConfigError)) throw err;
      this.logger.error({ ep: endpoint, reason: err.message }, 'stored bootstrap configuration is invalid');
      return this.reject(endpoint, address, `bootstrap configuration of "${endpoint}" is invalid on the server`, CoapCode.InternalServerError);
    }

    // A device that asks again has restarted its bootstrap: the old session is over.
    this.live.get(endpoint)?.session.stop('superseded');
    const session = new BootstrapSession({
      endpoint,
      remote: req.remote,
      config,
      pct: pctText === undefined ? undefined : Number(pctText),
      coap: this.options.coap,
      model: this.options.model,
      clock: this.clock,
      logger: this.logger,
      requestTimeoutMs: this.options.requestTimeoutMs,
    });
    const done = new Promise<BootstrapEndedEvent>((resolve) => {
      // After our 2.04 has left: the device expects the answer before the first request.
      this.clock.setTimeout(() => resolve(this.runSession(session)), 0);
    });
    this.live.set(endpoint, { session, done });
    return { code: CoapCode.Changed };
  }

  private async runSession(session: BootstrapSession): Promise<BootstrapEndedEvent> {
    const { endpoint } = session;
    this.options.events.emit('bootstrapStarted', {
      endpoint,
      address: `${session.remote.address}:${session.remote.port}`,
      version: session.lwm2mVersion,
      contentFormat: session.contentFormat,
    });
    let outcome: BootstrapEndedEvent;
    try {
      outcome = await session.run();
    } catch (err) {
      this.logger.error({ err, ep: endpoint }, 'bootstrap session failed unexpectedly');
      outcome = {
        endpoint,
        address: `${session.remote.address}:${session.remote.port}`,
        result: 'failed',
        reason: `internal error: ${(err as Error).message}`,
        startedAt: session.startedAt,
        endedAt: this.clock.now(),
        steps: session.steps,
      };
    }
    if (this.live.get(endpoint)?.session === session) this.live.delete(endpoint);
    this.remember(outcome);
    if (outcome.result === 'finished') this.logger.info({ ep: endpoint, steps: outcome.steps.length }, 'bootstrap finished');
    else this.logger.warn({ ep: endpoint, reason: outcome.reason, step: outcome.failedStep }, 'bootstrap failed');
    this.options.events.emit(outcome.result === 'finished' ? 'bootstrapFinished' : 'bootstrapFailed', outcome);
    await this.audit(outcome);
    return outcome;
  }

  private remember(outcome: BootstrapEndedEvent): void {
    this.outcomes.delete(outcome.endpoint);
    this.outcomes.set(outcome.endpoint, outcome);
    if (this.outcomes.size > MAX_REMEMBERED_OUTCOMES) this.outcomes.delete(this.outcomes.keys().next().value as string);
  }

  private async audit(outcome: BootstrapEndedEvent): Promise<void> {
    if (!this.options.audit) return;
    const detail: JsonObject = {
      address: outcome.address,
      durationMs: outcome.endedAt - outcome.startedAt,
      steps: outcome.steps.map((s) => ({ kind: s.kind, path: s.path, attempt: s.attempt, outcome: s.outcome })),
    };
    if (outcome.reason !== undefined) detail.reason = outcome.reason;
    if (outcome.failedStep !== undefined) detail.failedStep = outcome.failedStep;
    try {
      await this.options.audit.append({ at: outcome.endedAt, actor: 'bootstrap', action: `bootstrap.${outcome.result}`, subject: outcome.endpoint, detail });
    } catch (err) {
      this.logger.error({ err, ep: outcome.endpoint }, 'could not record the bootstrap outcome');
    }
  }

  /**
   * Refusals are not written to the audit log: anyone can send UDP datagrams, and the log
   * must not grow with them. The event and a log line are enough to notice a knocking device.
   */
  private reject(endpoint: string | undefined, address: string, reason: string, code: number = CoapCode.BadRequest): OutgoingResponse {
    this.logger.warn({ ep: endpoint, address, reason }, 'bootstrap request refused');
    this.options.events.emit('bootstrapRejected', { endpoint, address, reason });
    return text(code, reason);
  }
}

function text(code: number, reason: string): OutgoingResponse {
  return { code, payload: Buffer.from(reason, 'utf8'), contentFormat: ContentFormat.TEXT };
}

function queryParams(query: readonly string[]): Map<string, string> {
  const params = new Map<string, string>();
  for (const item of query) {
    const eq = item.indexOf('=');
    params.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? '' : item.slice(eq + 1));
  }
  return params;
}
