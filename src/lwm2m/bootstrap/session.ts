/**
 * Runs one bootstrap session against a device: sends each planned request, turns what
 * happened into a SessionEvent and lets the state machine pick what comes next.
 */
import { CoapResetError, CoapTimeoutError, formatCode, type OutgoingRequest, type RemoteAddress } from '../../coap/types.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import { encodeNode } from '../formats/index.js';
import { ContentFormat } from '../formats/types.js';
import { parseLinkFormat } from '../link-format.js';
import type { ObjectModel } from '../model/types.js';
import { parsePath, pathIds } from '../path.js';
import type { CoapRequester } from '../server/coap-requester.js';
import type { BootstrapConfig } from './config.js';
import { bootstrapFormat, versionOfDiscover, versionOfRequest, type BootstrapLwm2mVersion } from './content-format.js';
import type { BootstrapEndedEvent, BootstrapStepRecord } from './events.js';
import { buildPlan, discoveredAccounts, type BootstrapStep } from './plan.js';
import { isTerminal, nextSessionState, type SessionEvent, type SessionState } from './session-machine.js';

export const DEFAULT_RETRIES = 2;

export interface BootstrapSessionOptions {
  endpoint: string;
  remote: RemoteAddress;
  config: BootstrapConfig;
  /** The `pct` of the bootstrap request. */
  pct: number | undefined;
  coap: CoapRequester;
  model: ObjectModel;
  clock: Clock;
  logger?: Logger;
  /** Per request when the configuration does not say (default: the CoAP layer's budget). */
  requestTimeoutMs?: number;
}

type Stop = 'superseded' | 'closed';

export class BootstrapSession {
  readonly endpoint: string;
  readonly remote: RemoteAddress;
  readonly startedAt: number;
  readonly steps: BootstrapStepRecord[] = [];
  private current: SessionState = { phase: 'pending' };
  private version: BootstrapLwm2mVersion;
  private format: number;
  private plan: BootstrapStep[];
  private stopRequested: Stop | undefined;
  private wakeStop: ((why: Stop) => void) | undefined;

  constructor(private readonly options: BootstrapSessionOptions) {
    this.endpoint = options.endpoint;
    this.remote = options.remote;
    this.startedAt = options.clock.now();
    this.version = versionOfRequest(options.pct);
    this.format = bootstrapFormat(this.version, options.pct);
    this.plan = buildPlan(options.config, this.version, undefined);
  }

  get state(): SessionState {
    return this.current;
  }

  get lwm2mVersion(): BootstrapLwm2mVersion {
    return this.version;
  }

  get contentFormat(): number {
    return this.format;
  }

  /** Ends the session at the next opportunity (a request in flight is abandoned). */
  stop(why: Stop): void {
    if (this.stopRequested || isTerminal(this.current)) return;
    this.stopRequested = why;
    this.wakeStop?.(why);
  }

  async run(): Promise<BootstrapEndedEvent> {
    const shape = { steps: this.plan.map((s) => s.kind), retries: this.options.config.retries ?? DEFAULT_RETRIES };
    this.apply(this.stopRequested ? { kind: this.stopRequested } : { kind: 'start' }, shape);
    while (!isTerminal(this.current)) {
      const state = this.current as Extract<SessionState, { step: number }>;
      const step = this.plan[state.step];
      const event = await this.perform(step, state.attempt);
      this.apply(event, shape);
    }
    const end = this.current;
    const failedStep = end.phase === 'failed' && end.step !== undefined ? this.plan[end.step] : undefined;
    return {
      endpoint: this.endpoint,
      address: `${this.remote.address}:${this.remote.port}`,
      result: end.phase === 'finished' ? 'finished' : 'failed',
      ...(end.phase === 'failed' ? { reason: end.reason } : {}),
      ...(failedStep ? { failedStep: `${failedStep.kind} ${failedStep.path}` } : {}),
      startedAt: this.startedAt,
      endedAt: this.options.clock.now(),
      steps: this.steps,
    };
  }

  private apply(event: SessionEvent, shape: { steps: BootstrapStep['kind'][]; retries: number }): void {
    const before = this.current;
    this.current = nextSessionState(before, event, shape);
    this.options.logger?.debug({ ep: this.endpoint, from: before.phase, event: event.kind, to: this.current.phase }, 'bootstrap step');
  }

  private async perform(step: BootstrapStep, attempt: number): Promise<SessionEvent> {
    if (this.stopRequested) return { kind: this.stopRequested };
    let request: OutgoingRequest;
    try {
      request = this.requestFor(step);
    } catch (err) {
      this.record(step, attempt, 'aborted');
      return { kind: 'aborted', reason: `cannot encode ${step.path} as format ${this.format}: ${(err as Error).message}` };
    }
    const timeoutSec = this.options.config.requestTimeoutSec;
    const timeoutMs = timeoutSec !== undefined ? timeoutSec * 1000 : this.options.requestTimeoutMs;
    if (timeoutMs !== undefined) request.timeoutMs = timeoutMs;

    const stopped = new Promise<Stop>((resolve) => (this.wakeStop = resolve));
    try {
      const outcome = await Promise.race([this.options.coap.request(this.remote, request), stopped]);
      if (typeof outcome === 'string') return { kind: outcome };
      this.record(step, attempt, formatCode(outcome.code));
      if (step.kind === 'discover' && outcome.code === 0x45) {
        const refused = this.learnFromDiscover(outcome.payload.toString('utf8'));
        if (refused) return { kind: 'aborted', reason: refused };
      }
      const diagnostic = outcome.payload.length > 0 && step.kind !== 'discover' ? outcome.payload.toString('utf8').slice(0, 200) : undefined;
      return { kind: 'answered', code: outcome.code, ...(diagnostic ? { diagnostic } : {}) };
    } catch (err) {
      if (err instanceof CoapTimeoutError) {
        this.record(step, attempt, 'timeout');
        return { kind: 'timeout' };
      }
      if (err instanceof CoapResetError) {
        this.record(step, attempt, 'reset');
        return { kind: 'reset' };
      }
      this.record(step, attempt, 'aborted');
      return { kind: 'aborted', reason: `${step.kind} ${step.path} failed: ${(err as Error).message}` };
    } finally {
      this.wakeStop = undefined;
    }
  }

  /** Discovery tells the exact version (so the format) and where the bootstrap account is. Returns a reason to abort. */
  private learnFromDiscover(text: string): string | undefined {
    const version = versionOfDiscover(text) ?? this.version;
    // parseLinkFormat reads links only: drop the leading lwm2m="1.1" attribute first.
    const links = text.replace(/^\s*lwm2m\s*=\s*"?[\d.]+"?\s*,?/, '');
    try {
      const discovered = discoveredAccounts(parseLinkFormat(links));
      this.version = version;
      this.format = bootstrapFormat(version, this.options.pct);
      this.plan = buildPlan(this.options.config, version, discovered);
      return undefined;
    } catch (err) {
      return `unreadable Bootstrap-Discover answer: ${(err as Error).message}`;
    }
  }

  private requestFor(step: BootstrapStep): OutgoingRequest {
    const segments = (path: string): string[] => pathIds(parsePath(path)).map(String);
    switch (step.kind) {
      case 'discover':
        return { method: 'GET', path: segments(step.path), accept: ContentFormat.LINK };
      case 'delete':
        return { method: 'DELETE', path: segments(step.path) };
      case 'write':
        return {
          method: 'PUT',
          path: segments(step.path),
          contentFormat: this.format,
          payload: encodeNode(this.format, step.node, step.target, this.options.model),
        };
      case 'finish':
        return { method: 'POST', path: ['bs'] };
    }
  }

  private record(step: BootstrapStep, attempt: number, outcome: string): void {
    this.steps.push({ kind: step.kind, path: step.path, attempt, outcome });
  }
}
